"""Runs webhook attempts on a background event loop, so a sensor tick never waits on a slow
or dead receiver: the tick hands due events over (`dispatch_due`) and returns; each attempt signs
itself, records its result and schedules the next one.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache

from core.control_store import ControlStore
from core.control_store.tables import utcnow
from core.control_store.webhooks import WebhookEvent
from orchestration.webhooks import leases
from orchestration.webhooks.delivery import (
    AttemptResult,
    Outcome,
    deliver,
    new_client,
    next_retry_delay,
)
from orchestration.webhooks.signing import signed_headers

FINAL_STATES = {
    Outcome.DELIVERED: "delivered",
    Outcome.GONE: "gone",
    Outcome.BLOCKED: "blocked",
}


@dataclass(frozen=True)
class DeliveryPolicy:
    allow_private: bool
    timeout_s: float
    concurrency: int


def next_step(attempts_made: int, result: AttemptResult) -> tuple[float | None, str | None]:
    """(seconds until the next attempt, final state): exactly one of them is set."""
    if result.outcome in FINAL_STATES:
        return None, FINAL_STATES[result.outcome]
    delay = next_retry_delay(attempts_made, result.retry_after_s)
    return (delay, None) if delay is not None else (None, "exhausted")


class WebhookDispatcher:
    def __init__(self, store: ControlStore, policy: DeliveryPolicy) -> None:
        self._store = store
        self._policy = policy
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, name="webhook-dispatcher", daemon=True).start()
        self._ready.wait()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._semaphore = asyncio.Semaphore(self._policy.concurrency)
        self._client = new_client(concurrency=self._policy.concurrency)
        self._ready.set()
        self._loop.run_forever()

    @property
    def free_slots(self) -> int:
        """Attempts that would start at once (see `leases`: claim no more)."""
        with self._lock:
            return self._policy.concurrency - self._in_flight

    def dispatch(self, event: WebhookEvent, secret: str) -> Future[AttemptResult]:
        with self._lock:
            self._in_flight += 1
        future = asyncio.run_coroutine_threadsafe(self._attempt(event, secret), self._loop)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future[AttemptResult]) -> None:
        with self._lock:
            self._in_flight -= 1

    async def _attempt(self, event: WebhookEvent, secret: str) -> AttemptResult:
        body = event.payload.encode()
        async with self._semaphore:
            attempted_at = utcnow()
            result = await deliver(
                self._client,
                event.url,
                body,
                signed_headers(secret, event.id, attempted_at, body),
                allow_private=self._policy.allow_private,
                timeout_s=self._policy.timeout_s,
            )
        retry_in_s, final_state = next_step(event.attempts + 1, result)
        await asyncio.to_thread(
            self._store.webhooks.record_attempt,
            event,
            attempted_at=attempted_at,
            outcome=result.outcome.value,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            retry_in_s=retry_in_s,
            final_state=final_state,
        )
        return result


@cache
def control_store(url: str) -> ControlStore:
    """One store per process and URL: the sensor runs in a long-lived code server."""
    return ControlStore.from_url(url)


@cache
def dispatcher(url: str, policy: DeliveryPolicy) -> WebhookDispatcher:
    return WebhookDispatcher(control_store(url), policy)


def dispatch_due(store_url: str, policy: DeliveryPolicy) -> list[Future[AttemptResult]]:
    """Claim the due attempts (first ones and retries) and start them in the background."""
    store = control_store(store_url)
    pool = dispatcher(store_url, policy)
    futures = []
    claimed = leases.claim_due(
        store,
        timeout_s=policy.timeout_s,
        concurrency=policy.concurrency,
        free_slots=pool.free_slots,
    )
    for event in claimed:
        secret = store.organizations.webhook_secret(event.org_id)
        if secret is not None:
            futures.append(pool.dispatch(event, secret))
    return futures
