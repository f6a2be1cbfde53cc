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
        # phonenumbers' `number_type` (lowercase) and `region_code_for_number` of phone_number.
        "phone_type": pl.String,
        "phone_region": pl.String,
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

# Each stored value remembers the acceptance sequence of the import that wrote it (`*_seq`), so a
# write wins only over older values. A metadata key's sequence is in `metadata_seq` (a JSON object)
# or, if not there, `metadata_base_seq`: one import's metadata needs no per-key map. Null sequences
# (rows written before sequences existed) count as 0, older than any import since.
_SEQUENCE_COLUMNS = {
    "name_seq": pl.Int64,
    "language_seq": pl.Int64,
    "metadata_seq": pl.String,
    "metadata_base_seq": pl.Int64,
    "created_seq": pl.Int64,
}
SEQUENCES_SCHEMA = pl.Schema(_SEQUENCE_COLUMNS)

EXISTING_SCHEMA = pl.Schema(
    {
        "phone_number": pl.String,
        "name": pl.String,
        "language": pl.String,
        "metadata": pl.String,
        "created_import_id": pl.String,
        **_SEQUENCE_COLUMNS,
    }
)

PLAN_SCHEMA = pl.Schema(
    {
        "phone_number": pl.String,
        "name": pl.String,
        "language": pl.String,
        "metadata": pl.String,
        "phone_type": pl.String,
        "phone_region": pl.String,
        "is_new": pl.Boolean,
        # This import comes before the contact's creator in acceptance order: it becomes the
        # creator (what applying every import in order would have left).
        "creates": pl.Boolean,
        **_SEQUENCE_COLUMNS,
    }
)

# What a field check returns, aligned with its input: the normalized value, or an error.
CHECK_SCHEMA = pl.Schema({"value": pl.String, "code": pl.String, "message": pl.String})
# The phone check adds what it learnt of each valid number (null otherwise).
PHONE_CHECK_SCHEMA = pl.Schema(
    [*CHECK_SCHEMA.items(), ("phone_type", pl.String), ("phone_region", pl.String)]
)
