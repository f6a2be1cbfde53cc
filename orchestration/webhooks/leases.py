"""Which due events a tick claims, and for how long: the claim policy.

A claimed event is leased so that no other tick attempts it meanwhile. The lease outlasts the
attempt, which starts at once: a tick claims no more events than the dispatcher has free slots,
or the rest would wait in line behind slow receivers while their leases ran out, and then be
claimed and attempted a second time.

Slots are shared fairly between organizations, so one tenant's hanging receivers cannot hold up
everyone's webhooks (docs/webhooks.md, "Fairness"): free slots go one at a time to the
organization with the fewest events in flight (ties: the one whose oldest due event has waited
longest), and no organization holds more than `org_cap` slots, which keeps a quarter of them for
the others. Within an organization, the oldest due event goes first. In-flight counts are the
store's leases, so they hold across ticks and processes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.control_store import ControlStore
from core.control_store.webhooks import OrgLoad, WebhookEvent

# At most this many events per claim, however many slots are free.
DISPATCH_LIMIT = 200
# A claimed event's lease outlasts its attempt (timeout included) by this much.
LEASE_MARGIN = timedelta(seconds=30)
# One organization never holds the last 1/KEPT_FOR_OTHERS of the slots (rounded down).
KEPT_FOR_OTHERS = 4
_NEVER = datetime.max.replace(tzinfo=UTC)


def lease_for(timeout_s: float) -> timedelta:
    return timedelta(seconds=timeout_s) + LEASE_MARGIN


def org_cap(concurrency: int) -> int:
    """The most slots one organization may hold at once: 12 of 16, 3 of 4 (all of 1 to 3)."""
    return concurrency - concurrency // KEPT_FOR_OTHERS


def shares(loads: Sequence[OrgLoad], free_slots: int, cap: int) -> dict[str, int]:
    """How many events to claim per organization, in the order the slots were handed out."""
    given: dict[str, int] = {}
    queue = [
        (load.leased, load.oldest_due or _NEVER, load.org_id, load.claimable)
        for load in loads
        if load.claimable > 0 and load.leased < cap
    ]
    heapq.heapify(queue)
    for _ in range(free_slots):
        if not queue:
            break
        held, oldest_due, org_id, claimable = heapq.heappop(queue)
        given[org_id] = given.get(org_id, 0) + 1
        if given[org_id] < claimable and held + 1 < cap:
            heapq.heappush(queue, (held + 1, oldest_due, org_id, claimable))
    return given


def claim_due(
    store: ControlStore, *, timeout_s: float, concurrency: int, free_slots: int
) -> list[WebhookEvent]:
    """Lease the due events (first attempts and retries) that can start at once, fairly."""
    free = min(DISPATCH_LIMIT, free_slots)
    if free <= 0:
        return []
    lease = lease_for(timeout_s)
    claimed: list[WebhookEvent] = []
    for org_id, count in shares(store.webhooks.load_by_org(), free, org_cap(concurrency)).items():
        claimed += store.webhooks.claim_due(lease, count, org_id=org_id)
    return claimed
