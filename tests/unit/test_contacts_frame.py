import json
from typing import Any

import pytest

from transforms import contacts_frame
from transforms.schema import CONTACTS_SCHEMA


@pytest.mark.parametrize(
    ("value", "raw", "kind", "as_json"),
    [
        ("Priya", "Priya", "string", None),
        ("", "", "string", None),
        (42, None, "number", "42"),
        (4.5, None, "number", "4.5"),
        (True, None, "boolean", "true"),
        (None, None, "null", None),
        (["a", 1], None, "array", '["a",1]'),
        ({"first": "Priya"}, None, "object", '{"first":"Priya"}'),
    ],
)
@pytest.mark.parametrize(("key", "prefix"), [("name", "name"), ("phoneNumber", "phone")])
def test_field_columns_keep_string_and_json_type(
    key: str, prefix: str, value: Any, raw: str | None, kind: str, as_json: str | None
) -> None:
    row = contacts_frame([{key: value}]).row(0, named=True)
    assert (row[f"{prefix}_raw"], row[f"{prefix}_type"], row[f"{prefix}_json"]) == (
        raw,
        kind,
        as_json,
    )


def test_absent_key_has_no_type() -> None:
    row = contacts_frame([{}]).row(0, named=True)
    assert row["language_raw"] is None
    assert row["language_type"] is None
    assert row["metadata"] == "{}"


def test_metadata_keeps_every_other_key_unchanged_and_in_order() -> None:
    extra = {
        "tier": "premium",
        "city": "Mumbai",
        "nested": {"b": [1, {"c": None}], "a": 1.5},
        "score": 2**70,
        "flag": False,
    }
    frame = contacts_frame([{"name": "Priya", **extra, "phoneNumber": "+919876543210"}])
    metadata = json.loads(frame["metadata"][0])
    assert metadata == extra
    assert list(metadata) == list(extra)


def test_row_index_is_the_array_position() -> None:
    frame = contacts_frame([{"name": str(i)} for i in range(3)])
    assert frame["row_index"].to_list() == [0, 1, 2]


def test_empty_array_gives_an_empty_typed_frame() -> None:
    frame = contacts_frame([])
    assert frame.height == 0
    assert frame.schema == CONTACTS_SCHEMA


def test_non_json_value_is_refused() -> None:
    with pytest.raises(TypeError, match="not a parsed JSON value"):
        contacts_frame([{"name": ("a", "b")}])
