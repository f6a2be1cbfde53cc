"""Column names and dtypes of the frames that enter and leave `transforms`."""

from enum import StrEnum

import polars as pl


class WireField(StrEnum):
    """Contact keys with rules of their own, spelled as on the wire; every other key is metadata."""

    NAME = "name"
    PHONE_NUMBER = "phoneNumber"
    LANGUAGE = "language"


# Prefix of the `<prefix>_raw`, `<prefix>_type` and `<prefix>_json` columns of each field.
COLUMN_PREFIX: dict[WireField, str] = {
    WireField.NAME: "name",
    WireField.PHONE_NUMBER: "phone",
    WireField.LANGUAGE: "language",
}

CONTACTS_SCHEMA = pl.Schema(
    {
        "row_index": pl.Int64,
        **{
            f"{prefix}_{part}": pl.String
            for prefix in COLUMN_PREFIX.values()
            for part in ("raw", "type", "json")
        },
        "metadata": pl.String,
    }
)

VALID_SCHEMA = pl.Schema(
    {
        "row_index": pl.Int64,
        "phone_number": pl.String,
        "name": pl.String,
        "language": pl.String,
        "metadata": pl.String,
    }
)

ERRORS_SCHEMA = pl.Schema(
    {
        "row_index": pl.Int64,
        "field": pl.String,
        "code": pl.String,
        "message": pl.String,
        "value": pl.String,
    }
)

EXISTING_SCHEMA = pl.Schema(
    {
        "phone_number": pl.String,
        "name": pl.String,
        "language": pl.String,
        "metadata": pl.String,
        "created_import_id": pl.String,
    }
)

PLAN_SCHEMA = pl.Schema(
    {
        "phone_number": pl.String,
        "name": pl.String,
        "language": pl.String,
        "metadata": pl.String,
        "is_new": pl.Boolean,
    }
)

# What a field check returns, aligned with its input: the normalized value, or an error.
CHECK_SCHEMA = pl.Schema({"value": pl.String, "code": pl.String, "message": pl.String})
