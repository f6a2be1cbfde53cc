"""Properties of the transforms over generated messy batches."""

import json
from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from transforms import contacts_frame, normalize_contacts, plan_upsert
from transforms.schema import EXISTING_SCHEMA

# The same few numbers written several ways, so batches collide; plus numbers that fail.
_PHONES = {
    "+919876543210": ["+919876543210", "+91 98765 43210", "+91-98765-43210"],
    "+442079460958": ["+44 20 7946 0958", "+44 (0)20 7946 0958", "+44.20.7946.0958"],
    "+14155552671": ["+1 (415) 555-2671", "+1 415 555 2671"],
    "+33612345678": ["+33 6 12 34 56 78"],
}
_BAD_PHONES = ["919876543210", "+999 1234 5678", "+1 415", "+1 415 555 2671 ext 9", ""]
_LANGUAGES = [
    "hi-IN",
    "en",
    "zh-Hant-TW",
    "es-419",
    "x-private",
    "en_US",
    "English (US)",
    "en-",
    " ",
    "i-klingon",
]

# Letters, combining marks and every kind of whitespace the name rule collapses; a fixed alphabet
# also spares Hypothesis from building its Unicode tables on a fresh checkout.
_TEXT = "aZé\u0301\u00f1山 \t\n\u00a0\u2009\u3000\u200b🎉"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_TEXT, max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_TEXT, max_size=3), inner),
    max_leaves=5,
)


@st.composite
def contacts(draw: st.DrawFn) -> dict[str, Any]:
    contact: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(["city", "tier", "tags", "score"]), json_values)
    )
    contact["name"] = draw(st.text(_TEXT, max_size=8))
    contact["phoneNumber"] = draw(
        st.sampled_from([raw for raws in _PHONES.values() for raw in raws] + _BAD_PHONES)
        | st.integers()
    )
    language = draw(
        st.sampled_from(_LANGUAGES).map(str.swapcase) | st.sampled_from(_LANGUAGES) | st.none()
    )
    if language is not None:
        contact["language"] = language
    keys = draw(st.permutations(list(contact)))
    return {key: contact[key] for key in keys}


batches = st.lists(contacts(), max_size=12)


@st.composite
def existing_rows(draw: st.DrawFn) -> pl.DataFrame:
    phones = draw(st.lists(st.sampled_from(list(_PHONES)), unique=True))
    return pl.DataFrame(
        [
            {
                "phone_number": phone,
                "name": "Existing",
                "language": draw(st.sampled_from(["fr", None])),
                "metadata": json.dumps(
                    draw(st.dictionaries(st.sampled_from(["city", "old"]), json_values)),
                    separators=(",", ":"),
                ),
                "created_import_id": draw(st.sampled_from(["imp_0", "imp_1"])),
            }
            for phone in phones
        ],
        schema=EXISTING_SCHEMA,
    )


@given(batches)
def test_normalizing_normalized_rows_changes_nothing(batch: list[dict[str, Any]]) -> None:
    first = normalize_contacts(contacts_frame(batch)).valid
    again_in = [
        {"name": row["name"], "phoneNumber": row["phone_number"], "language": row["language"]}
        | json.loads(row["metadata"])
        for row in first.iter_rows(named=True)
    ]
    again = normalize_contacts(contacts_frame(again_in))
    assert again.failed == 0
    assert again.valid.drop("row_index").equals(first.drop("row_index"))


@given(batches, existing_rows())
def test_every_row_is_created_updated_or_failed(
    batch: list[dict[str, Any]], existing: pl.DataFrame
) -> None:
    normalized = normalize_contacts(contacts_frame(batch))
    plan = plan_upsert(normalized.valid, existing, "imp_1")
    assert normalized.total == plan.created + plan.updated + normalized.failed
    assert normalized.errors["row_index"].n_unique() == normalized.failed


@given(batches, existing_rows())
def test_plan_has_one_row_per_phone(batch: list[dict[str, Any]], existing: pl.DataFrame) -> None:
    valid = normalize_contacts(contacts_frame(batch)).valid
    plan = plan_upsert(valid, existing, "imp_1")
    assert plan.rows["phone_number"].is_unique().all()
    assert set(plan.rows["phone_number"]) == set(valid["phone_number"])


def _apply_one_by_one(
    valid: pl.DataFrame, existing: pl.DataFrame, import_id: str
) -> tuple[dict[str, dict[str, Any]], int]:
    """The SPEC read literally: rows applied in request order, one at a time."""
    state = {
        row["phone_number"]: {
            "name": row["name"],
            "language": row["language"],
            "metadata": json.loads(row["metadata"]),
            "is_new": row["created_import_id"] == import_id,
        }
        for row in existing.iter_rows(named=True)
    }
    touched: dict[str, dict[str, Any]] = {}
    for row in valid.iter_rows(named=True):
        contact = state.setdefault(
            row["phone_number"],
            {"name": None, "language": None, "metadata": {}, "is_new": True},
        )
        contact["name"] = row["name"]
        contact["language"] = row["language"] or contact["language"]
        contact["metadata"].update(json.loads(row["metadata"]))
        touched[row["phone_number"]] = contact
    created = sum(contact["is_new"] for contact in touched.values())
    return touched, created


@given(batches, existing_rows())
def test_row_order_decides_which_values_win(
    batch: list[dict[str, Any]], existing: pl.DataFrame
) -> None:
    valid = normalize_contacts(contacts_frame(batch)).valid
    plan = plan_upsert(valid, existing, "imp_1")
    expected, created = _apply_one_by_one(valid, existing, "imp_1")
    assert plan.created == created
    assert {
        row["phone_number"]: {
            "name": row["name"],
            "language": row["language"],
            # Items, not the dict: key order is part of the contract.
            "metadata": list(json.loads(row["metadata"]).items()),
            "is_new": row["is_new"],
        }
        for row in plan.rows.iter_rows(named=True)
    } == {
        phone: contact | {"metadata": list(contact["metadata"].items())}
        for phone, contact in expected.items()
    }
