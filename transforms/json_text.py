"""Compact JSON text, fast with orjson, exact where orjson is not."""

import json
from typing import Any

import orjson


def to_json(value: Any) -> str:
    """Serialize compactly, keeping key order."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits and nesting deeper than 255 levels, both valid JSON.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def from_json(text: str) -> Any:
    """Parse with the standard library: orjson turns integers beyond 64 bits into floats."""
    return json.loads(text)
