"""Metadata numbers are stored exactly as sent (docs/row-errors.md): a float where it holds the
value, the exact value where a float cannot (`1e-400` used to become `0.0`)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import polars as pl
import pytest

from core.landing import read_landed_request, write_durably
from transforms import contacts_frame, normalize_contacts, plan_upsert
from transforms.json_text import exact_number, from_json, to_json
from transforms.schema import EXISTING_SCHEMA

EXACT = [
    "1e-400",
    "1e400",
    "-1E+400",
    "0.1000000000000000055511151231257827",
    "123456789.123456789123",
]
FLOATS = ["0.1", "1e5", "2.5", "-0.0", "1.7976931348623157e308", "5e-324"]


@pytest.mark.parametrize("text", EXACT)
def test_a_number_a_float_cannot_hold_keeps_its_value(text: str) -> None:
    value = exact_number(text)
    assert isinstance(value, Decimal)
    assert value == Decimal(text)
    assert Decimal(to_json({"n": value})[len('{"n":') : -1]) == Decimal(text)


@pytest.mark.parametrize("text", FLOATS)
def test_a_number_a_float_holds_stays_a_float(text: str) -> None:
    value = exact_number(text)
    assert isinstance(value, float)
    assert to_json({"n": value}) == json.dumps({"n": float(text)}, separators=(",", ":"))


def test_landed_metadata_keeps_exact_numbers_through_the_merge(tmp_path: Path) -> None:
    numbers = ",".join(f'"k{i}":{text}' for i, text in enumerate(EXACT + FLOATS))
    contact = f'{{"name":"A","phoneNumber":"+14155550100",{numbers},"big":{2**100}}}'
    body = f'{{"contacts":[{contact}]}}'
    path = tmp_path / "landed.json"
    write_durably(path, body.encode())
    normalized = normalize_contacts(contacts_frame(read_landed_request(path).contacts))
    (metadata,) = normalized.valid["metadata"].to_list()
    expected = {f"k{i}": Decimal(text) for i, text in enumerate(EXACT + FLOATS)}
    expected["big"] = Decimal(2**100)
    assert json.loads(metadata, parse_float=Decimal, parse_int=Decimal) == expected
    # Merged over what the warehouse holds (text parsed back), the values stay exact.
    plan = plan_upsert(normalized.valid, _existing(metadata), "imp_b")
    (merged,) = plan.rows["metadata"].to_list()
    assert json.loads(merged, parse_float=Decimal, parse_int=Decimal) == expected
    assert from_json(merged)["k0"] == Decimal("1e-400")


def _existing(metadata: str) -> pl.DataFrame:
    row = {
        "phone_number": "+14155550100",
        "name": "Old",
        "language": None,
        "metadata": metadata,
        "created_import_id": "imp_a",
    }
    return pl.DataFrame([row], schema=EXISTING_SCHEMA)


def test_msgspec_alone_would_lose_them() -> None:
    # Why the landing zone decodes with a float hook.
    assert msgspec.json.decode(b"1e-400") == 0.0
