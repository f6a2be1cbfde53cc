"""Row rules applied to a contacts frame: normalized rows, and every error of every row."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import polars as pl

from transforms.errors import RowErrorCode
from transforms.languages import check_languages
from transforms.names import check_names
from transforms.phones import check_phones
from transforms.schema import (
    CHECK_SCHEMA,
    COLUMN_PREFIX,
    ERRORS_SCHEMA,
    VALID_SCHEMA,
    WireField,
)

MAX_VALUE_CHARS = 200

Check = Callable[[pl.Series], pl.DataFrame]


def _checks(default_country: str | None) -> dict[WireField, Check]:
    """The check of each field's string values, in the order errors of one row are listed."""
    return {
        WireField.NAME: check_names,
        WireField.PHONE_NUMBER: partial(check_phones, default_country=default_country),
        WireField.LANGUAGE: check_languages,
    }


_REQUIRED = {WireField.NAME, WireField.PHONE_NUMBER}


@dataclass(frozen=True)
class NormalizedContacts:
    """`valid`: rows without errors (VALID_SCHEMA). `errors`: one row per error (ERRORS_SCHEMA).

    `total` counts rows in, `failed` rows with at least one error.
    """

    valid: pl.DataFrame
    errors: pl.DataFrame
    total: int
    failed: int


def _truncated(text: pl.Expr) -> pl.Expr:
    return (
        pl.when(text.str.len_chars() > MAX_VALUE_CHARS)
        .then(text.str.slice(0, MAX_VALUE_CHARS - 1) + pl.lit("…"))
        .otherwise(text)
    )


def _check_field(frame: pl.DataFrame, field: WireField, check: Check) -> pl.DataFrame:
    """`value`, `code`, `message`, the offending value `shown`, and whatever else the check
    learnt of a value (the phone's type and region), aligned with `frame`.

    The JSON type decides first: a missing (absent or null) or non-string value never reaches the
    string check.
    """
    prefix = COLUMN_PREFIX[field]
    # Renamed: the check's own columns may share the input's names (`phone_type`).
    columns = frame.select(
        **{f"input_{part}": f"{prefix}_{part}" for part in ("raw", "type", "json")}
    )
    raw, kind, as_json = (pl.col(f"input_{part}") for part in ("raw", "type", "json"))
    missing = kind.is_null() | (kind == "null")
    required = field in _REQUIRED
    checked = check(columns["input_raw"])
    return pl.concat([columns, checked], how="horizontal").select(
        "value",
        pl.when(missing)
        .then(pl.lit(RowErrorCode.REQUIRED if required else None, pl.String))
        .when(kind != "string")
        .then(pl.lit(RowErrorCode.INVALID_TYPE))
        .otherwise("code")
        .alias("code"),
        pl.when(missing)
        .then(pl.lit(f"{field} is required" if required else None, pl.String))
        .when(kind != "string")
        .then(pl.lit(f"{field} must be a string, got ") + kind)
        .otherwise("message")
        .alias("message"),
        _truncated(pl.coalesce(raw, as_json)).alias("shown"),
        *(pl.col(name) for name in checked.columns if name not in CHECK_SCHEMA),
    )


def normalize_contacts(
    frame: pl.DataFrame, default_country: str | None = None
) -> NormalizedContacts:
    """Apply the row rules (docs/row-errors.md) to a frame built by `contacts_frame`; numbers
    without `+` are read for `default_country` (ISO 3166-1 alpha-2) if one is given."""
    checks = {
        field: _check_field(frame, field, check)
        for field, check in _checks(default_country).items()
    }
    errors = (
        pl.concat(
            [
                check.select(
                    frame["row_index"],
                    pl.lit(str(field)).alias("field"),
                    "code",
                    "message",
                    pl.col("shown").alias("value"),
                ).filter(pl.col("code").is_not_null())
                for field, check in checks.items()
            ]
        )
        # A stable sort keeps one row's errors in field order.
        .sort("row_index", maintain_order=True)
        .cast(ERRORS_SCHEMA)
    )
    passed = pl.DataFrame([check["code"].rename(field) for field, check in checks.items()]).select(
        pl.all_horizontal(pl.all().is_null())
    )
    valid = frame.select(
        "row_index",
        phone_number=checks[WireField.PHONE_NUMBER]["value"],
        name=checks[WireField.NAME]["value"],
        language=checks[WireField.LANGUAGE]["value"],
        metadata="metadata",
        phone_type=checks[WireField.PHONE_NUMBER]["phone_type"],
        phone_region=checks[WireField.PHONE_NUMBER]["phone_region"],
    ).filter(passed.to_series())
    return NormalizedContacts(
        valid=valid.cast(VALID_SCHEMA),
        errors=errors,
        total=frame.height,
        failed=errors["row_index"].n_unique(),
    )
