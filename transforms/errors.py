"""Stable machine codes of row errors; docs/row-errors.md documents each one."""

from enum import StrEnum


class RowErrorCode(StrEnum):
    """A code names the problem; the error's `field` says where. Never rename a member's value."""

    REQUIRED = "required"
    INVALID_TYPE = "invalid_type"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    MISSING_PLUS = "missing_plus"
    INVALID_FORMAT = "invalid_format"
    INVALID_COUNTRY_CODE = "invalid_country_code"
    TOO_SHORT = "too_short"
    INVALID_NUMBER = "invalid_number"
    INVALID_TAG = "invalid_tag"
