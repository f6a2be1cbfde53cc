"""Laws of `contacts_frame` → `normalize_contacts` → `plan_upsert` over generated batches whose
phone numbers are libphonenumber's example numbers of every supported region and number type.

`apply` below is the warehouse step's use of a plan (core/warehouse/writer.py), on a
dict: read the organization's rows for the batch's phones, plan, write every planned row back,
keeping who created an existing contact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from transforms import (
    NormalizedContacts,
    UpsertPlan,
    contacts_frame,
    normalize_contacts,
    plan_upsert,
)
from transforms.schema import EXISTING_SCHEMA

NUMBER_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]


def _example_numbers() -> dict[str, str]:
    """E.164 → libphonenumber's international format, for every region and number type."""
    numbers: dict[str, str] = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in NUMBER_TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None and phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
                numbers.setdefault(
                    e164, phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
                )
    return numbers


EXAMPLES = _example_numbers()
E164S = sorted(EXAMPLES)
# What docs/row-errors.md lets stand around and between the digits.
SEPARATORS = [
    " ",
    "",
    "-",
    ".",
    "(",
    ")",
    "\u00a0",
    "\u202f",
    "\u2009",
    "\u2011",
    "\u2013",
    "\u2212",
]
BAD_PHONES = ["", "   ", "+999 1234 5678", "+1 415", "+1 415 555 2671 ext 9", "tel:+14155552671"]
LANGUAGES = [
    "hi-IN",
    "EN",
    "zh-hant-tw",
    "es-419",
    "x-private",
    "en_US",
    "English (US)",
    "en-",
    " ",
    "i-klingon",
]
# Letters, a combining mark and whitespace of several kinds: the name rule's interesting cases.
NAME_ALPHABET = "aZé\u0301山 \t\u00a0\u3000🎉"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text("ab é", max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("xyz"), inner),
    max_leaves=4,
)


def test_the_examples_cover_every_region() -> None:
    regions = {phonenumbers.region_code_for_number(phonenumbers.parse(e, None)) for e in E164S}
    # Regions sharing a calling code with a main region (e.g. +1, +44, +7) resolve to one of
    # them when parsed back; still, well over a thousand numbers from over 200 regions.
    assert len(E164S) > 900
    assert len(regions) > 200


@st.composite
def written(draw: st.DrawFn, e164: str) -> str:
    """One number as a person might write it: E.164, the international format, or its digits
    with any of the tolerated separators around them."""
    style = draw(st.sampled_from(["e164", "international", "separated"]))
    if style == "e164":
        return e164
    if style == "international":
        return EXAMPLES[e164]
    seps = st.sampled_from(SEPARATORS)
    text = "+" + "".join(draw(seps) + digit for digit in e164[1:])
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " "]))


@st.composite
def contact(draw: st.DrawFn, pool: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(["city", "tier", "tags"]), json_values, max_size=2)
    )
    row["name"] = draw(st.text(NAME_ALPHABET, max_size=6) | st.integers() | st.none())
    row["phoneNumber"] = draw(
        st.sampled_from(pool).flatmap(written)
        | st.sampled_from(BAD_PHONES)
        | st.sampled_from(pool).map(lambda e164: e164[1:])  # no +
        | st.integers(0, 10**12)
    )
    if draw(st.booleans()):
        row["language"] = draw(st.sampled_from(LANGUAGES) | st.none())
    order = draw(st.permutations(list(row)))
    return {key: row[key] for key in order}


@dataclass(frozen=True)
class Scenario:
    batch: list[dict[str, Any]]
    existing: pl.DataFrame  # the organization's rows, some of them for the batch's numbers


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    # A few numbers per batch, so rows collide; drawn from all the examples.
    pool = draw(st.lists(st.sampled_from(E164S), min_size=1, max_size=4, unique=True))
    batch = draw(st.lists(contact(pool), max_size=10))
    stored = draw(st.lists(st.sampled_from(pool), unique=True))
    existing = pl.DataFrame(
        [
            {
                "phone_number": phone,
                "name": "Stored",
                "language": draw(st.sampled_from(["fr", None])),
                "metadata": json.dumps(
                    draw(st.dictionaries(st.sampled_from(["city", "old"]), json_values)),
                    separators=(",", ":"),
                ),
                "created_import_id": draw(st.sampled_from(["imp_old", "imp_older"])),
            }
            for phone in stored
        ],
        schema=EXISTING_SCHEMA,
    )
    return Scenario(batch, existing)


def normalize(batch: list[dict[str, Any]]) -> NormalizedContacts:
    return normalize_contacts(contacts_frame(batch))


Contacts = dict[str, dict[str, Any]]


def state_of(existing: pl.DataFrame) -> Contacts:
    return {row["phone_number"]: row for row in existing.iter_rows(named=True)}


def apply(state: Contacts, valid: pl.DataFrame, import_id: str) -> UpsertPlan:
    """Plan `valid` against the stored rows of its numbers and write the plan into `state`."""
    phones = set(valid["phone_number"])
    existing = pl.DataFrame(
        [row for phone, row in state.items() if phone in phones], schema=EXISTING_SCHEMA
    )
    plan = plan_upsert(valid, existing, import_id)
    for row in plan.rows.iter_rows(named=True):
        phone = row["phone_number"]
        creator = state[phone]["created_import_id"] if phone in state else import_id
        state[phone] = {
            "phone_number": phone,
            "name": row["name"],
            "language": row["language"],
            "metadata": row["metadata"],
            "created_import_id": creator,
        }
    return plan


def contents(state: Contacts) -> dict[str, tuple[Any, ...]]:
    """What a contact holds; metadata as items, since key order is part of the contract."""
    return {
        phone: (row["name"], row["language"], list(json.loads(row["metadata"]).items()))
        for phone, row in state.items()
    }


def row_results(normalized: NormalizedContacts) -> dict[int, Any]:
    """Each row's outcome: its stored values, or its errors in order."""
    results: dict[int, Any] = {}
    for row in normalized.valid.iter_rows(named=True):
        results[row.pop("row_index")] = ("valid", row)
    for error in normalized.errors.iter_rows(named=True):
        index = error.pop("row_index")
        results.setdefault(index, ("errors", []))[1].append(error)
    return results


@settings(deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_shuffling_a_batch_keeps_its_numbers_and_counts(scenario: Scenario, rng: Any) -> None:
    shuffled = list(scenario.batch)
    rng.shuffle(shuffled)
    before, after = normalize(scenario.batch), normalize(shuffled)
    assert set(after.valid["phone_number"]) == set(before.valid["phone_number"])
    assert (after.total, after.failed, after.valid.height, after.errors.height) == (
        before.total,
        before.failed,
        before.valid.height,
        before.errors.height,
    )
    plans = [plan_upsert(n.valid, scenario.existing, "imp_new") for n in (before, after)]
    assert set(plans[1].rows["phone_number"]) == set(plans[0].rows["phone_number"])
    assert (plans[1].created, plans[1].updated) == (plans[0].created, plans[0].updated)


@settings(deadline=None)
@given(scenarios())
def test_each_row_gets_the_result_it_gets_alone(scenario: Scenario) -> None:
    """Phones are parsed once per distinct value in a batch: a row's neighbours never change
    its outcome."""
    together = row_results(normalize(scenario.batch))
    for index, row in enumerate(scenario.batch):
        assert together[index] == row_results(normalize([row]))[0], row


@settings(deadline=None)
@given(scenarios())
def test_every_valid_phone_is_e164_and_reparses_to_itself(scenario: Scenario) -> None:
    normalized = normalize(scenario.batch)
    for e164 in normalized.valid["phone_number"]:
        number = phonenumbers.parse(e164, None)
        assert phonenumbers.is_valid_number(number), e164
        assert phonenumbers.format_number(number, PhoneNumberFormat.E164) == e164
        assert re.fullmatch(r"\+[1-9][0-9]{1,14}", e164), e164
    # The numbers written from the examples come out as those examples.
    for row in normalized.valid.iter_rows(named=True):
        raw = scenario.batch[row["row_index"]]["phoneNumber"]
        digits = "".join(c for c in raw if c.isdigit())
        assert row["phone_number"] == "+" + digits


@settings(deadline=None)
@given(scenarios())
def test_valid_and_error_rows_partition_the_batch(scenario: Scenario) -> None:
    normalized = normalize(scenario.batch)
    valid = normalized.valid["row_index"].to_list()
    failed = set(normalized.errors["row_index"])
    assert valid == sorted(valid)  # request order
    assert set(valid).isdisjoint(failed)
    assert set(valid) | failed == set(range(normalized.total))
    assert normalized.total == len(scenario.batch)
    assert normalized.failed == len(failed)
    # row-errors.md: listed by row_index, then name, phoneNumber, language.
    field_order = {"name": 0, "phoneNumber": 1, "language": 2}
    keys = [
        (e["row_index"], field_order[e["field"]]) for e in normalized.errors.iter_rows(named=True)
    ]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)  # at most one error per field


@settings(deadline=None)
@given(scenarios(), st.data())
def test_two_halves_in_sequence_equal_the_whole(scenario: Scenario, data: st.DataObject) -> None:
    """`oliai import` sends a file as consecutive batches, each its own import, and adds up
    their counts: that must be the file imported at once."""
    split = data.draw(st.integers(0, len(scenario.batch)), label="split")
    first, second = scenario.batch[:split], scenario.batch[split:]

    whole_state = state_of(scenario.existing)
    whole = normalize(scenario.batch)
    whole_plan = apply(whole_state, whole.valid, "imp_whole")

    halves_state = state_of(scenario.existing)
    halves = [normalize(part) for part in (first, second)]
    plans = [
        apply(halves_state, half.valid, import_id)
        for half, import_id in zip(halves, ["imp_a", "imp_b"], strict=True)
    ]

    assert contents(halves_state) == contents(whole_state)
    assert sum(p.created for p in plans) == whole_plan.created
    assert sum(p.updated for p in plans) == whole_plan.updated
    assert sum(h.failed for h in halves) == whole.failed
    assert sum(h.errors.height for h in halves) == whole.errors.height
    # The second batch's errors are the whole file's, shifted by the first batch's length.
    shifted = pl.concat(
        [halves[0].errors, halves[1].errors.with_columns(pl.col("row_index") + split)]
    )
    assert shifted.equals(whole.errors)


@settings(deadline=None)
@given(scenarios())
def test_replanning_against_the_applied_result_creates_nothing(scenario: Scenario) -> None:
    valid = normalize(scenario.batch).valid
    state = state_of(scenario.existing)
    first = apply(state, valid, "imp_1")
    applied = contents(state)

    # Another import with the same rows: every valid row updates, and nothing changes.
    again = apply(state, valid, "imp_2")
    assert (again.created, again.updated) == (0, valid.height)
    assert contents(state) == applied

    # The same import processed again counts as its first run did (warehouse.md).
    rerun = apply(state, valid, "imp_1")
    assert (rerun.created, rerun.updated) == (first.created, first.updated)
    assert contents(state) == applied
