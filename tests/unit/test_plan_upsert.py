from typing import Any

import orjson
import polars as pl
import pytest

from transforms import contacts_frame, normalize_contacts, plan_upsert
from transforms.schema import EXISTING_SCHEMA, PLAN_SCHEMA, SEQUENCES_SCHEMA

_NO_EXISTING = pl.DataFrame(schema=EXISTING_SCHEMA)
VALUES = ["phone_number", "name", "language", "metadata", "is_new"]


def _valid(*contacts: dict[str, Any]) -> pl.DataFrame:
    return normalize_contacts(contacts_frame(contacts)).valid


def _existing(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=EXISTING_SCHEMA)


def test_duplicates_in_a_batch_collapse_and_count_once_as_created() -> None:
    valid = _valid(
        {"name": "Priya", "phoneNumber": "+91 98765 43210", "language": "hi-IN", "city": "Mumbai"},
        {"name": "Ravi", "phoneNumber": "+44 20 7946 0958"},
        {"name": "Priya S.", "phoneNumber": "+91-98765-43210", "tier": "gold", "city": "Pune"},
        {"name": "Priya Sharma", "phoneNumber": "+919876543210"},
    )
    plan = plan_upsert(valid, _NO_EXISTING, "imp_1")
    assert plan.rows.select(VALUES).rows(named=True) == [
        {
            "phone_number": "+919876543210",
            "name": "Priya Sharma",
            "language": "hi-IN",
            "metadata": '{"city":"Pune","tier":"gold"}',
            "is_new": True,
        },
        {
            "phone_number": "+442079460958",
            "name": "Ravi",
            "language": None,
            "metadata": "{}",
            "is_new": True,
        },
    ]
    assert (plan.created, plan.updated) == (2, 2)


def test_merge_with_existing_metadata_and_keep_existing_language() -> None:
    existing = _existing(
        {
            "phone_number": "+919876543210",
            "name": "Old name",
            "language": "hi-IN",
            "metadata": '{"city":"Delhi","profile":{"a":1,"b":2},"vip":true}',
            "created_import_id": "imp_0",
        }
    )
    valid = _valid(
        {"name": "Priya", "phoneNumber": "+919876543210", "profile": {"a": 3}, "city": "Mumbai"}
    )
    plan = plan_upsert(valid, existing, "imp_1")
    row = plan.rows.row(0, named=True)
    assert row["name"] == "Priya"
    assert row["language"] == "hi-IN"
    assert row["metadata"] == '{"city":"Mumbai","profile":{"a":3},"vip":true}'
    assert row["is_new"] is False
    assert (plan.created, plan.updated) == (0, 1)


def test_existing_metadata_is_kept_when_the_batch_has_none() -> None:
    existing = _existing(
        {
            "phone_number": "+14155552671",
            "name": "Old",
            "language": None,
            "metadata": '{"n":12345678901234567890123}',
            "created_import_id": "imp_0",
        }
    )
    plan = plan_upsert(
        _valid({"name": "New", "phoneNumber": "+1 415 555 2671", "language": "EN-us"}),
        existing,
        "imp_1",
    )
    assert plan.rows.select("language", "metadata").row(0) == (
        "en-US",
        '{"n":12345678901234567890123}',
    )


def test_big_integers_survive_a_merge() -> None:
    existing = _existing(
        {
            "phone_number": "+14155552671",
            "name": "Old",
            "language": None,
            "metadata": '{"n":12345678901234567890123}',
            "created_import_id": "imp_0",
        }
    )
    valid = _valid({"name": "New", "phoneNumber": "+14155552671", "m": 2**80})
    plan = plan_upsert(valid, existing, "imp_1")
    assert plan.rows["metadata"][0] == '{"n":12345678901234567890123,"m":1208925819614629174706176}'


def test_reprocessing_an_import_counts_the_same_as_its_first_run() -> None:
    contacts: list[dict[str, Any]] = [
        {"name": "A", "phoneNumber": "+919876543210", "k": 1},
        {"name": "B", "phoneNumber": "+442079460958"},
        {"name": "A2", "phoneNumber": "+91 98765 43210", "k": 2},
    ]
    earlier = _existing(
        {
            "phone_number": "+442079460958",
            "name": "B0",
            "language": "en-GB",
            "metadata": "{}",
            "created_import_id": "imp_0",
        }
    )
    first = plan_upsert(_valid(*contacts), earlier, "imp_1")
    # The warehouse after the first run: its rows, the new ones marked as created by imp_1.
    after_first = first.rows.select(
        "phone_number",
        "name",
        "language",
        "metadata",
        pl.when("is_new")
        .then(pl.lit("imp_1"))
        .otherwise(pl.lit("imp_0"))
        .alias("created_import_id"),
        *SEQUENCES_SCHEMA.names(),
    )
    again = plan_upsert(_valid(*contacts), after_first, "imp_1")
    assert (first.created, first.updated) == (again.created, again.updated) == (1, 2)
    assert again.rows.equals(first.rows)


def test_another_import_sees_the_rows_as_existing() -> None:
    existing = _existing(
        {
            "phone_number": "+919876543210",
            "name": "A",
            "language": None,
            "metadata": "{}",
            "created_import_id": "imp_1",
        }
    )
    plan = plan_upsert(_valid({"name": "A", "phoneNumber": "+919876543210"}), existing, "imp_2")
    assert (plan.created, plan.updated) == (0, 1)


def test_rows_apply_in_row_index_order_whatever_the_frame_order() -> None:
    valid = _valid(
        {"name": "First", "phoneNumber": "+919876543210", "language": "hi", "k": "first"},
        {"name": "Second", "phoneNumber": "+919876543210", "k": "second"},
    )
    plan = plan_upsert(valid.reverse(), _NO_EXISTING, "imp_1")
    assert plan.rows.select("name", "language", "metadata").row(0) == (
        "Second",
        "hi",
        '{"k":"second"}',
    )


def test_empty_batch_gives_an_empty_plan() -> None:
    plan = plan_upsert(_valid(), _NO_EXISTING, "imp_1")
    assert plan.rows.schema == PLAN_SCHEMA
    assert (plan.rows.height, plan.created, plan.updated) == (0, 0, 0)


def test_existing_with_two_rows_for_a_phone_is_refused() -> None:
    row = {
        "phone_number": "+919876543210",
        "name": "A",
        "language": None,
        "metadata": "{}",
        "created_import_id": "imp_0",
    }
    with pytest.raises(ValueError, match="more than one row"):
        plan_upsert(_valid({"name": "A", "phoneNumber": "+919876543210"}), _existing(row, row), "i")


def test_plan_metadata_is_valid_json_objects() -> None:
    valid = _valid(
        {"name": "A", "phoneNumber": "+919876543210", "x": [1, 2], "y": None},
        {"name": "A", "phoneNumber": "+919876543210", "x": {"deep": [True]}},
    )
    plan = plan_upsert(valid, _NO_EXISTING, "imp_1")
    assert orjson.loads(plan.rows["metadata"][0]) == {"x": {"deep": [True]}, "y": None}


# Order-proof merge: a value remembers the acceptance sequence of the import that wrote it.


def _applied(plan: pl.DataFrame, import_id: str, existing: pl.DataFrame) -> pl.DataFrame:
    """What the warehouse holds after writing `plan` (as apply_import does), as EXISTING_SCHEMA."""
    creators = existing.select("phone_number", "created_import_id")
    written = plan.join(creators, on="phone_number", how="left").with_columns(
        created_import_id=pl.when(pl.col("creates") | pl.col("created_import_id").is_null())
        .then(pl.lit(import_id))
        .otherwise("created_import_id")
    )
    kept = existing.join(plan.select("phone_number"), on="phone_number", how="anti")
    return pl.concat([kept, written.select(EXISTING_SCHEMA.names())]).sort("phone_number")


OLDER = [
    {"name": "Old Priya", "phoneNumber": "+919876543210", "language": "hi-IN", "city": "Pune"},
    {"name": "Old Ravi", "phoneNumber": "+442079460958", "tier": "gold", "city": "Leeds"},
]
NEWER = [
    {"name": "Priya", "phoneNumber": "+919876543210", "city": "Mumbai", "vip": True},
    {"name": "Ravi", "phoneNumber": "+442079460958", "language": "en-GB"},
    {"name": "Mia", "phoneNumber": "+14155550100"},
]


def _apply_in_turn(*imports: tuple[str, int, list[dict[str, Any]]]) -> pl.DataFrame:
    state = _NO_EXISTING
    for import_id, sequence, contacts in imports:
        plan = plan_upsert(_valid(*contacts), state, import_id, sequence)
        state = _applied(plan.rows, import_id, state)
    return state


def test_an_older_import_applied_late_never_overwrites_a_newer_one() -> None:
    in_order = _apply_in_turn(("imp_old", 10, OLDER), ("imp_new", 20, NEWER))
    late = _apply_in_turn(("imp_new", 20, NEWER), ("imp_old", 10, OLDER))
    assert late.to_dicts() == in_order.to_dicts()
    by_phone = {row["phone_number"]: row for row in in_order.to_dicts()}
    assert by_phone["+919876543210"]["name"] == "Priya"
    assert by_phone["+919876543210"]["language"] == "hi-IN"  # the newer import sent none
    assert orjson.loads(by_phone["+919876543210"]["metadata"]) == {"city": "Mumbai", "vip": True}
    assert by_phone["+442079460958"]["language"] == "en-GB"
    assert orjson.loads(by_phone["+442079460958"]["metadata"]) == {"tier": "gold", "city": "Leeds"}
    # The first import in acceptance order created the contacts it shares with the later one.
    assert by_phone["+919876543210"]["created_import_id"] == "imp_old"
    assert by_phone["+14155550100"]["created_import_id"] == "imp_new"


def test_a_late_import_counts_what_it_would_have_counted_in_order() -> None:
    newer_first = _apply_in_turn(("imp_new", 20, NEWER))
    plan = plan_upsert(_valid(*OLDER), newer_first, "imp_old", 10)
    # It becomes their creator, but they were counted created once already (by imp_new).
    assert (plan.created, plan.updated) == (0, 2)
    assert plan.rows["creates"].to_list() == [True, True]


def test_re_running_an_import_changes_nothing_it_did_not_write() -> None:
    once = _apply_in_turn(("imp_old", 10, OLDER), ("imp_new", 20, NEWER))
    again = plan_upsert(_valid(*OLDER), once, "imp_old", 10)
    assert (again.created, again.updated) == (2, 0)  # counted as on its first run
    assert _applied(again.rows, "imp_old", once).to_dicts() == once.to_dicts()


def test_rows_written_before_sequences_are_older_than_any_import() -> None:
    legacy = _existing(
        {
            "phone_number": "+919876543210",
            "name": "Legacy",
            "language": "hi-IN",
            "metadata": '{"city":"Delhi","plan":"basic"}',
            "created_import_id": "imp_legacy",
        }
    )
    plan = plan_upsert(_valid(NEWER[0]), legacy, "imp_new", 20)
    row = plan.rows.row(0, named=True)
    assert (row["name"], row["language"]) == ("Priya", "hi-IN")
    assert orjson.loads(row["metadata"]) == {"city": "Mumbai", "plan": "basic", "vip": True}
    assert orjson.loads(row["metadata_seq"]) == {"city": 20, "plan": 0, "vip": 20}
    assert row["metadata_base_seq"] is None
    assert (plan.created, plan.updated) == (0, 1)


# Two rows of a phone the organization has (created by imp_1), three rows of two new phones.
_MIXED = (
    {"name": "Known", "phoneNumber": "+919876543210", "x": 1},
    {"name": "New A", "phoneNumber": "+442079460958"},
    {"name": "Known again", "phoneNumber": "+919876543210"},
    {"name": "New B", "phoneNumber": "+14155552671"},
    {"name": "New B again", "phoneNumber": "+14155552671"},
)
_KNOWN = {
    "phone_number": "+919876543210",
    "name": "Old",
    "language": None,
    "metadata": '{"y":2}',
    "created_import_id": "imp_1",
}


@pytest.mark.parametrize(
    ("may_create", "may_update", "counts", "phones"),
    [
        (True, True, (2, 3, 0), ["+919876543210", "+442079460958", "+14155552671"]),
        # createOnly: the known phone's two rows are skipped; New B's second row still merges
        # into the contact this import creates.
        (True, False, (2, 1, 2), ["+442079460958", "+14155552671"]),
        # updateOnly: the new phones' three rows are skipped.
        (False, True, (0, 2, 3), ["+919876543210"]),
    ],
)
def test_a_mode_skips_the_rows_it_may_not_apply(
    may_create: bool, may_update: bool, counts: tuple[int, int, int], phones: list[str]
) -> None:
    valid = _valid(*_MIXED)
    plan = plan_upsert(
        valid, _existing(_KNOWN), "imp_2", may_create=may_create, may_update=may_update
    )
    assert (plan.created, plan.updated, plan.skipped) == counts
    assert plan.created + plan.updated + plan.skipped == valid.height
    assert plan.rows["phone_number"].to_list() == phones


def test_create_only_treats_a_contact_created_by_a_later_import_as_new() -> None:
    """In acceptance order this import came first and created it: applied late, it still may."""
    later = {**_KNOWN, "created_import_id": "imp_9", "created_seq": 9, "name_seq": 9}
    valid = _valid({"name": "First", "phoneNumber": "+919876543210"})
    plan = plan_upsert(valid, _existing(later), "imp_2", 2, may_update=False)
    assert plan.skipped == 0
    assert plan.rows["name"].to_list() == ["Old"]  # the later import's newer name stays


def test_each_phone_carries_its_type_and_region_over_a_stored_row_without_them() -> None:
    # A contact stored before phone types existed (lake schema 2) has none: the plan brings them.
    existing = _existing({"phone_number": "+18002345678", "name": "Old", "metadata": "{}"})
    valid = _valid(
        {"name": "Free", "phoneNumber": "+1 800 234 5678"},
        {"name": "Ravi", "phoneNumber": "+44 20 7946 0958"},
        {"name": "Ravi R.", "phoneNumber": "+442079460958"},
    )
    plan = plan_upsert(valid, existing, "imp_2")
    # phonenumbers: number_type and region_code_for_number of each
    assert plan.rows.select("phone_number", "phone_type", "phone_region").rows() == [
        ("+18002345678", "toll_free", "US"),
        ("+442079460958", "fixed_line", "GB"),
    ]
