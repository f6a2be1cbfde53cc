"""The dry run's per-row diff (transforms.row_diff): actions, changes and totals, pure."""

from typing import Any

import polars as pl
import pytest

from client import schemas
from transforms import contacts_frame, normalize_contacts
from transforms.json_text import from_json, to_json
from transforms.row_diff import BatchDiff, ChangedField, FieldChange, RowAction, diff_batch
from transforms.schema import EXISTING_SCHEMA

SEQUENCE = 100
PRIYA, RAVI, LEO = "+919876543210", "+442079460958", "+14155552671"
STORED = pl.DataFrame(
    [
        {
            "phone_number": PRIYA,
            "name": "Priya",
            "language": "hi-IN",
            "metadata": '{"city":"Delhi","vip":1}',
            "created_import_id": "imp_0",
            "name_seq": 10,
            "language_seq": 10,
            "metadata_seq": "{}",
            "metadata_base_seq": 10,
            "created_seq": 10,
        },
        {
            "phone_number": RAVI,
            "name": "Ravi",
            "language": None,
            "metadata": "{}",
            "created_import_id": "imp_0",
            "name_seq": 10,
            "language_seq": None,
            "metadata_seq": "{}",
            "metadata_base_seq": 10,
            "created_seq": 10,
        },
    ],
    schema=EXISTING_SCHEMA,
)
# Priya changed, Ravi unchanged, Leo new and then repeated, one failing row.
BATCH = [
    {"name": "Priya Sharma", "phoneNumber": PRIYA, "city": "Pune", "vip": True},
    {"name": "Ravi", "phoneNumber": RAVI},
    {"name": "Leo", "phoneNumber": LEO, "tier": "gold"},
    {"name": "", "phoneNumber": "12"},
    {"name": "Leo B.", "phoneNumber": "+1 415 555 2671", "language": "en-US", "tier": "gold"},
]


def name(old: str | None, new: str) -> FieldChange:
    return FieldChange(ChangedField.NAME, None, old, new)


def meta(key: str, old: str | None, new: str) -> FieldChange:
    return FieldChange(ChangedField.METADATA, key, old, new)


def diff(contacts: list[dict[str, Any]], existing: pl.DataFrame, **mode: bool) -> BatchDiff:
    normalized = normalize_contacts(contacts_frame(contacts))
    return diff_batch(normalized.valid, normalized.errors, existing, "dry", SEQUENCE, **mode)


def actions(result: BatchDiff) -> list[tuple[int, RowAction, str | None]]:
    return [(row.row_index, row.action, row.phone_number) for row in result.rows]


def totals(result: BatchDiff) -> tuple[int, int, int]:
    return result.plan.created, result.plan.updated, result.plan.skipped


def test_upsert_reports_creates_changes_and_repeats_against_the_earlier_row() -> None:
    result = diff(BATCH, STORED)
    assert actions(result) == [
        (0, RowAction.UPDATE, PRIYA),
        (1, RowAction.UPDATE, RAVI),
        (2, RowAction.CREATE, LEO),
        (3, RowAction.FAIL, None),
        (4, RowAction.UPDATE, LEO),
    ]
    assert [row.changes for row in result.rows] == [
        (
            name('"Priya"', '"Priya Sharma"'),
            meta("city", '"Delhi"', '"Pune"'),
            meta("vip", "1", "true"),
        ),
        (),  # the same values: rewritten, counted updated, nothing changes
        (name(None, '"Leo"'), meta("tier", None, '"gold"')),
        (),
        (name('"Leo"', '"Leo B."'), FieldChange(ChangedField.LANGUAGE, None, None, '"en-US"')),
    ]
    assert totals(result) == (1, 3, 0)


def test_an_empty_warehouse_means_every_number_is_created_once() -> None:
    result = diff(BATCH, pl.DataFrame(schema=EXISTING_SCHEMA))
    assert [row.action for row in result.rows] == [
        RowAction.CREATE,
        RowAction.CREATE,
        RowAction.CREATE,
        RowAction.FAIL,
        RowAction.UPDATE,
    ]
    assert result.rows[1].changes == (name(None, '"Ravi"'),)
    assert totals(result) == (3, 1, 0)


def test_create_only_skips_the_existing_contacts() -> None:
    result = diff(BATCH, STORED, may_update=False)
    assert [row.action for row in result.rows] == [
        RowAction.SKIP,
        RowAction.SKIP,
        RowAction.CREATE,
        RowAction.FAIL,
        RowAction.UPDATE,
    ]
    assert result.rows[0].changes == ()
    assert totals(result) == (1, 1, 2)


def test_update_only_skips_every_row_of_a_new_number() -> None:
    result = diff(BATCH, STORED, may_create=False)
    assert [row.action for row in result.rows] == [
        RowAction.UPDATE,
        RowAction.UPDATE,
        RowAction.SKIP,
        RowAction.FAIL,
        RowAction.SKIP,
    ]
    assert totals(result) == (0, 2, 2)


def test_values_newer_in_acceptance_order_are_not_reported_as_changing() -> None:
    newer = STORED.with_columns(
        name_seq=pl.lit(SEQUENCE + 1, pl.Int64),
        metadata_seq=pl.lit('{"city":101}'),
    )
    result = diff(BATCH[:1], newer)
    assert result.rows[0].changes == (meta("vip", "1", "true"),)


def test_applying_the_changes_gives_the_plan_the_import_writes() -> None:
    result = diff(BATCH, STORED)
    contacts: dict[str, dict[str, Any]] = {
        row["phone_number"]: {
            "name": row["name"],
            "language": row["language"],
            "metadata": from_json(row["metadata"]),
        }
        for row in STORED.iter_rows(named=True)
    }
    for row in result.rows:
        if row.phone_number is None:
            continue
        contact = contacts.setdefault(row.phone_number, {"language": None, "metadata": {}})
        for change in row.changes:
            old = _value(contact, change)
            assert change.old == (None if old is None else to_json(old))
            if change.key is None:
                contact[change.field] = from_json(change.new)
            else:
                contact["metadata"][change.key] = from_json(change.new)
    planned = {
        row["phone_number"]: {
            "name": row["name"],
            "language": row["language"],
            "metadata": from_json(row["metadata"]),
        }
        for row in result.plan.rows.iter_rows(named=True)
    }
    assert planned == contacts


def _value(contact: dict[str, Any], change: FieldChange) -> Any:
    if change.key is None:
        return contact.get(change.field)
    return contact["metadata"].get(change.key)


@pytest.mark.parametrize(
    ("ours", "wire"),
    [(RowAction, schemas.RowAction), (ChangedField, schemas.ChangedField)],
)
def test_the_wire_enums_spell_the_same_values(ours: type, wire: type) -> None:
    assert [member.value for member in ours] == [member.value for member in wire]
