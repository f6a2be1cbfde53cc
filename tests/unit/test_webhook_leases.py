"""The claim policy (`orchestration/webhooks/leases.py`): free slots go one at a time to the
organization with the fewest events in flight, and none holds more than its cap, so one tenant's
backlog never takes the slots another tenant's webhook needs. Claims run on a real control store
(a fresh PostgreSQL database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.control_store import ControlStore
from core.control_store.webhooks import OrgLoad
from orchestration.webhooks.leases import claim_due, lease_for, org_cap, shares

T0 = datetime(2026, 3, 10, 10, 5, tzinfo=UTC)


def load(org: str, leased: int, claimable: int, waited_s: float = 0.0) -> OrgLoad:
    return OrgLoad(org, leased, claimable, T0 - timedelta(seconds=waited_s) if claimable else None)


def test_the_cap_keeps_a_quarter_of_the_slots_for_others() -> None:
    assert [org_cap(n) for n in (1, 2, 3, 4, 8, 16, 32)] == [1, 2, 3, 3, 6, 12, 24]


def test_one_organization_alone_gets_no_more_than_its_cap() -> None:
    assert shares([load("a", 0, 60)], free_slots=16, cap=12) == {"a": 12}
    assert shares([load("a", 12, 48)], free_slots=4, cap=12) == {}
    assert shares([load("a", 10, 48)], free_slots=4, cap=12) == {"a": 2}


def test_a_newcomer_gets_a_slot_however_long_the_others_backlog() -> None:
    # A's 60 events have waited longer; B's one still goes out in the same claim.
    assert shares([load("a", 0, 60, waited_s=30), load("b", 0, 1)], 16, 12) == {"a": 12, "b": 1}
    assert shares([load("a", 12, 48, waited_s=30), load("b", 0, 1)], 4, 12) == {"b": 1}


def test_slots_go_to_the_fewest_in_flight_first_then_by_turns() -> None:
    loads = [load("a", 3, 10, waited_s=50), load("b", 0, 10, waited_s=10), load("c", 1, 10)]
    given = shares(loads, free_slots=5, cap=12)
    assert given == {"b": 3, "c": 2}  # b to 1, then b and c to 2 and 3 in turn; a still leads
    assert list(given) == ["b", "c"]
    # Ties go to the organization whose oldest event has waited longest.
    assert list(shares([load("x", 0, 1), load("y", 0, 1, waited_s=5)], 1, 12)) == ["y"]


def test_no_organization_gets_more_than_it_has_due() -> None:
    assert shares([load("a", 0, 2), load("b", 0, 1)], free_slots=16, cap=12) == {"a": 2, "b": 1}
    assert shares([load("a", 4, 0)], free_slots=16, cap=12) == {}


@pytest.fixture
def store(control_store: ControlStore) -> ControlStore:
    return control_store


def enqueue(store: ControlStore, org: str, count: int) -> None:
    for n in range(count):
        store.webhooks.enqueue(
            event_id=f"msg_{org}_{n}",
            import_id=f"imp_{org}_{n}",
            org_id=org,
            run_id=f"run-{org}-{n}",
            url=f"https://{org}.example/hook",
            payload="{}",
        )


def test_a_claim_on_the_store_leaves_room_for_the_other_organization(store: ControlStore) -> None:
    enqueue(store, "a", 60)
    enqueue(store, "b", 1)  # recorded after all of A's
    first = claim_due(store, timeout_s=10, concurrency=16, free_slots=16)
    assert sorted(e.org_id for e in first).count("a") == 12
    assert [e.id for e in first if e.org_id == "b"] == ["msg_b_0"]
    # Oldest first within an organization.
    assert [e.id for e in first if e.org_id == "a"] == [f"msg_a_{n}" for n in range(12)]

    # A's twelve are leased: more free slots and a later event of B's; A still gets none.
    enqueue(store, "c", 2)
    second = claim_due(store, timeout_s=10, concurrency=16, free_slots=3)
    assert sorted(e.id for e in second) == ["msg_c_0", "msg_c_1"]
    loads = {load.org_id: load for load in store.webhooks.load_by_org()}
    assert (loads["a"].leased, loads["a"].claimable) == (12, 48)
    assert (loads["b"].leased, loads["c"].leased) == (1, 2)
    assert claim_due(store, timeout_s=10, concurrency=16, free_slots=0) == []


def test_the_lease_outlasts_the_attempt() -> None:
    assert lease_for(10.0) == timedelta(seconds=40)
