"""Compact JSON text, fast with orjson, exact where orjson is not.

Numbers stay as sent: an integer beyond 64 bits stays an int, and a number a float cannot hold
(`1e-400`, `1e400`, 30 significant digits) stays a `Decimal` with the value sent, written back
as a JSON number. A float that holds the value (`0.1`, `1e5`) stays a float.
"""

import json
from decimal import Decimal
from typing import Any

import msgspec
import orjson

_EXACT_ENCODER = msgspec.json.Encoder(decimal_format="number")


def exact_number(text: str) -> float | Decimal:
    """The float of a JSON number literal, or its Decimal when the float would change it."""
    value = float(text)
    exact = Decimal(text)
    return value if Decimal(repr(value)) == exact else exact


def to_json(value: Any) -> str:
    """Serialize compactly, keeping key order."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        # Integers beyond 64 bits and exact Decimals.
        return _EXACT_ENCODER.encode(value).decode()
    except RecursionError:
        # Nesting deeper than either encoder goes, still valid JSON.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=float)


def from_json(text: str) -> Any:
    """Parse with the standard library: orjson turns integers beyond 64 bits into floats."""
    return json.loads(text, parse_float=exact_number)
