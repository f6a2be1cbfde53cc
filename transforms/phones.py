"""The `phoneNumber` rule: a leading +, digits and separators, a valid number, stored as E.164."""

import phonenumbers
import polars as pl
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from transforms.errors import RowErrorCode
from transforms.schema import CHECK_SCHEMA

# Separators tolerated around digits: any Unicode whitespace (NBSP, the narrow NBSP of French
# formatting), dots, parentheses, the ASCII hyphen and the Unicode dashes word processors insert.
_SEPARATORS = r"[\s.()\-\u2010-\u2015\u2212]*"
# An optional + (its absence gets its own code), then ASCII digits with separators around them.
PHONE_SHAPE = rf"^\+?{_SEPARATORS}[0-9](?:{_SEPARATORS}[0-9])*$"

PHONE_MESSAGES: dict[RowErrorCode, str] = {
    RowErrorCode.EMPTY: "phoneNumber is empty or only whitespace",
    RowErrorCode.INVALID_FORMAT: (
        "phoneNumber must be + and digits, with only spaces, dashes, dots or parentheses"
        " between them (no letters or extensions)"
    ),
    RowErrorCode.MISSING_PLUS: (
        "phoneNumber must start with + and the country calling code, e.g. +919876543210"
    ),
    RowErrorCode.INVALID_COUNTRY_CODE: "phoneNumber does not start with a known country code",
    RowErrorCode.TOO_SHORT: "phoneNumber has too few digits for its country",
    RowErrorCode.TOO_LONG: "phoneNumber has too many digits for its country",
    RowErrorCode.INVALID_NUMBER: (
        "phoneNumber is not a valid number in its country's numbering plan"
    ),
}

_PARSE_ERRORS: dict[int, RowErrorCode] = {
    NumberParseException.INVALID_COUNTRY_CODE: RowErrorCode.INVALID_COUNTRY_CODE,
    # Our shape check already passed, so phonenumbers only says "not a number" to under 3 digits.
    NumberParseException.NOT_A_NUMBER: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: RowErrorCode.TOO_SHORT,
    NumberParseException.TOO_LONG: RowErrorCode.TOO_LONG,
}

# Why a parsed number is not valid.
_INVALID: dict[int, RowErrorCode] = {
    ValidationResult.IS_POSSIBLE: RowErrorCode.INVALID_NUMBER,
    ValidationResult.INVALID_COUNTRY_CODE: RowErrorCode.INVALID_COUNTRY_CODE,
    ValidationResult.TOO_SHORT: RowErrorCode.TOO_SHORT,
    # Dialable only inside its area: the area code is missing.
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: RowErrorCode.TOO_SHORT,
    ValidationResult.TOO_LONG: RowErrorCode.TOO_LONG,
    ValidationResult.INVALID_LENGTH: RowErrorCode.INVALID_NUMBER,
}


def parse_phone(digits: str) -> tuple[str | None, RowErrorCode | None]:
    """E.164 of `+` and digits, or why it is not a valid number. ~25 µs: call sparingly."""
    try:
        number = phonenumbers.parse(digits, None)
    except NumberParseException as error:
        return None, _PARSE_ERRORS[error.error_type]
    if phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.E164), None
    # Only invalid numbers pay for the reason.
    return None, _INVALID[phonenumbers.is_possible_number_with_reason(number)]


def check_phones(raw: pl.Series) -> pl.DataFrame:
    """E.164 numbers or an error for each string in `raw` (nulls pass through).

    Shapes are checked on distinct raw values and phonenumbers runs once per distinct `+digits`
    key, so a number repeated or written two ways is parsed once.
    """
    trimmed = pl.col("raw").str.strip_chars()
    shapes = (
        raw.unique()
        .drop_nulls()
        .to_frame("raw")
        .with_columns(
            key=pl.lit("+") + trimmed.str.replace_all("[^0-9]", ""),
            shape_code=pl.when(trimmed == "")
            .then(pl.lit(RowErrorCode.EMPTY))
            .when(~trimmed.str.contains(PHONE_SHAPE))
            .then(pl.lit(RowErrorCode.INVALID_FORMAT))
            .when(~trimmed.str.starts_with("+"))
            .then(pl.lit(RowErrorCode.MISSING_PLUS)),
        )
    )
    keys = shapes.filter(pl.col("shape_code").is_null())["key"].unique().to_list()
    results = [parse_phone(key) for key in keys]
    parsed = pl.DataFrame(
        {
            "key": keys,
            "e164": [e164 for e164, _ in results],
            "parse_code": [code for _, code in results],
        },
        schema={"key": pl.String, "e164": pl.String, "parse_code": pl.String},
    )
    by_raw = shapes.join(parsed, on="key", how="left").select(
        "raw",
        pl.when(pl.col("shape_code").is_null()).then("e164").alias("value"),
        pl.coalesce("shape_code", "parse_code").alias("code"),
    )
    return (
        raw.to_frame("raw")
        .join(by_raw, on="raw", how="left", maintain_order="left")
        .select(
            "value",
            "code",
            pl.col("code").replace_strict(PHONE_MESSAGES, default=None).alias("message"),
        )
        .cast(CHECK_SCHEMA)
    )
