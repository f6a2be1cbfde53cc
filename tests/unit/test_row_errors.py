from typing import Any

import pytest

from transforms import RowErrorCode, contacts_frame, normalize_contacts
from transforms.schema import ERRORS_SCHEMA, VALID_SCHEMA

_GOOD: dict[str, Any] = {"name": "Priya", "phoneNumber": "+919876543210", "language": "hi-IN"}


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (919876543210, "number", "919876543210"),
        (1.5, "number", "1.5"),
        (["+919876543210"], "array", '["+919876543210"]'),
        ({"number": "+919876543210"}, "object", '{"number":"+919876543210"}'),
        (True, "boolean", "true"),
    ],
)
@pytest.mark.parametrize("field", ["name", "phoneNumber", "language"])
def test_wrong_json_types_are_invalid_type(field: str, value: Any, kind: str, shown: str) -> None:
    result = normalize_contacts(contacts_frame([{**_GOOD, field: value}]))
    assert result.errors.rows(named=True) == [
        {
            "row_index": 0,
            "field": field,
            "code": RowErrorCode.INVALID_TYPE,
            "message": f"{field} must be a string, got {kind}",
            "value": shown,
        }
    ]
    assert (result.total, result.failed, result.valid.height) == (1, 1, 0)


@pytest.mark.parametrize("field", ["name", "phoneNumber"])
@pytest.mark.parametrize("present_as_null", [True, False])
def test_required_fields_missing_or_null(field: str, present_as_null: bool) -> None:
    contact: dict[str, Any] = {key: value for key, value in _GOOD.items() if key != field}
    if present_as_null:
        contact[field] = None
    result = normalize_contacts(contacts_frame([contact]))
    assert result.errors.select("field", "code", "value").rows() == [
        (field, RowErrorCode.REQUIRED, None)
    ]


def test_a_row_carries_all_its_errors_in_field_order() -> None:
    contacts: list[dict[str, Any]] = [
        _GOOD,
        {"language": "English (US)", "phoneNumber": "12345", "name": " "},
        {"phoneNumber": 42},
        _GOOD,
    ]
    result = normalize_contacts(contacts_frame(contacts))
    assert result.errors.select("row_index", "field", "code").rows() == [
        (1, "name", RowErrorCode.EMPTY),
        (1, "phoneNumber", RowErrorCode.MISSING_PLUS),
        (1, "language", RowErrorCode.INVALID_TAG),
        (2, "name", RowErrorCode.REQUIRED),
        (2, "phoneNumber", RowErrorCode.INVALID_TYPE),
    ]
    assert result.errors["value"].to_list() == [" ", "12345", "English (US)", None, "42"]
    assert (result.total, result.failed) == (4, 2)
    assert result.valid["row_index"].to_list() == [0, 3]


def test_offending_values_are_truncated_to_200_characters() -> None:
    long_name = "é" * 300
    long_phone = ["+91"] * 100
    result = normalize_contacts(
        contacts_frame([{**_GOOD, "name": long_name, "phoneNumber": long_phone}])
    )
    name_value, phone_value = result.errors["value"].to_list()
    assert name_value == "é" * 199 + "…"
    assert phone_value.startswith('["+91","+91"')
    assert len(phone_value) == 200
    assert phone_value.endswith("…")


def test_a_value_of_exactly_200_characters_is_kept_whole() -> None:
    result = normalize_contacts(contacts_frame([{**_GOOD, "phoneNumber": "x" * 200}]))
    assert result.errors["value"][0] == "x" * 200


def test_valid_rows_carry_normalized_values_and_metadata() -> None:
    contact: dict[str, Any] = {
        "name": " Priya  Sharma",
        "phoneNumber": "+91 98765 43210",
        "language": "HI-in",
    }
    contact |= {"city": "Mumbai", "tags": ["a", {"b": 1}]}
    result = normalize_contacts(contacts_frame([contact]))
    assert result.valid.rows(named=True) == [
        {
            "row_index": 0,
            "phone_number": "+919876543210",
            "name": "Priya Sharma",
            "language": "hi-IN",
            "metadata": '{"city":"Mumbai","tags":["a",{"b":1}]}',
            # phonenumbers: number_type mobile, region_code_for_number IN
            "phone_type": "mobile",
            "phone_region": "IN",
        }
    ]


def test_empty_input_keeps_the_schemas() -> None:
    result = normalize_contacts(contacts_frame([]))
    assert result.valid.schema == VALID_SCHEMA
    assert result.errors.schema == ERRORS_SCHEMA
    assert (result.total, result.failed) == (0, 0)


def test_all_rows_failing_keeps_the_valid_schema() -> None:
    result = normalize_contacts(contacts_frame([{}, {"name": 1}]))
    assert result.valid.height == 0
    assert result.valid.schema == VALID_SCHEMA
    assert (result.total, result.failed) == (2, 2)
