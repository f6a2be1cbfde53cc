"""The parsed `contacts` array of a request, as a typed frame."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from transforms.json_text import to_json
from transforms.schema import COLUMN_PREFIX, CONTACTS_SCHEMA

_JSON_TYPES: dict[type, str] = {
    str: "string",
    int: "number",
    float: "number",
    Decimal: "number",  # a number a float cannot hold (transforms.json_text)
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
}
_ABSENT = object()
_NOT_SERIALIZED = {None, "string", "null"}


def _json_type(value: Any) -> str:
    try:
        return _JSON_TYPES[type(value)]
    except KeyError:
        raise TypeError(f"not a parsed JSON value: {type(value).__name__}") from None


def contacts_frame(contacts: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per contact of a parsed JSON `contacts` array; see CONTACTS_SCHEMA.

    For each of name, phoneNumber and language (column prefixes `name`, `phone`, `language`):
    `<prefix>_raw` is the value when it is a JSON string, `<prefix>_type` its JSON type ("string",
    "number", "boolean", "null", "array", "object"; null when the key is absent) and
    `<prefix>_json` the compact JSON text of a non-null, non-string value, kept for error reports.
    `metadata` is the JSON object text of every other key, in the order received.
    """
    columns: dict[str, list[Any]] = {"row_index": list(range(len(contacts)))}
    for key, prefix in COLUMN_PREFIX.items():
        # One comprehension per column: the cheapest per-row Python there is.
        values = [contact.get(key, _ABSENT) for contact in contacts]
        types = [None if value is _ABSENT else _json_type(value) for value in values]
        columns[f"{prefix}_raw"] = [
            value if kind == "string" else None for value, kind in zip(values, types, strict=True)
        ]
        columns[f"{prefix}_type"] = types
        columns[f"{prefix}_json"] = [
            None if kind in _NOT_SERIALIZED else to_json(value)
            for value, kind in zip(values, types, strict=True)
        ]
    columns["metadata"] = [
        to_json({key: value for key, value in contact.items() if key not in COLUMN_PREFIX})
        for contact in contacts
    ]
    return pl.DataFrame(columns, schema=CONTACTS_SCHEMA)
