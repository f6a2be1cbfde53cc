"""Which due events a tick claims, and for how long: the claim policy.

A claimed event is leased so that no other tick attempts it meanwhile. The lease outlasts the
attempt, which starts at once: a tick claims no more events than the dispatcher has free slots,
or the rest would wait in line behind slow receivers while their leases ran out, and then be
claimed and attempted a second time.
"""

from __future__ import annotations

from datetime import timedelta

from core.control_store import ControlStore
from core.control_store.webhooks import WebhookEvent

# At most this many events per claim, however many slots are free.
DISPATCH_LIMIT = 200
# A claimed event's lease outlasts its attempt (timeout included) by this much.
LEASE_MARGIN = timedelta(seconds=30)


def lease_for(timeout_s: float) -> timedelta:
    return timedelta(seconds=timeout_s) + LEASE_MARGIN


def claim_due(store: ControlStore, timeout_s: float, free_slots: int) -> list[WebhookEvent]:
    """Lease the due events (first attempts and retries) that can start at once."""
    return store.webhooks.claim_due(lease_for(timeout_s), min(DISPATCH_LIMIT, free_slots))
