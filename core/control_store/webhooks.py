"""Webhook events (one `import.completed` per ended run) and every delivery attempt.

The sensor records and claims events and the dispatcher records attempts; the API only reads
them back (`deliveries`). Leases on events keep two ticks from attempting one event at once; which
events a tick claims, and how many per organization, is the caller's policy
(`orchestration/webhooks/leases.py`), built on `load_by_org` and `claim_due(org_id=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.tables import utcnow, webhook_attempts, webhook_events


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    import_id: str
    org_id: str
    url: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class WebhookAttempt:
    event_id: str
    import_id: str
    attempt: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class WebhookEventRecord:
    """An event as its deliveries list shows it, with its attempts, oldest first."""

    id: str
    run_id: str
    url: str
    state: str
    created_at: datetime
    next_attempt_at: datetime | None  # None once the event is final
    attempts: list[WebhookAttempt]


@dataclass(frozen=True)
class OrgLoad:
    """One organization's due events right now: how many are leased (being attempted) and how
    many could be claimed, and since when the oldest of those has been due."""

    org_id: str
    leased: int
    claimable: int
    oldest_due: datetime | None  # None when nothing is claimable


def _attempt(row: sa.Row[Any]) -> WebhookAttempt:
    return WebhookAttempt(
        event_id=row.event_id,
        import_id=row.import_id,
        attempt=row.attempt,
        attempted_at=row.attempted_at,
        outcome=row.outcome,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
    )


class Webhooks:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enqueue(
        self, *, event_id: str, import_id: str, org_id: str, run_id: str, url: str, payload: str
    ) -> bool:
        """Record an import.completed event once per run; False if it was already recorded."""
        now = utcnow()
        try:
            with self._engine.begin() as conn:
                exists = conn.scalar(
                    sa.select(webhook_events.c.id).where(webhook_events.c.run_id == run_id)
                )
                if exists is not None:
                    return False
                conn.execute(
                    webhook_events.insert().values(
                        id=event_id,
                        import_id=import_id,
                        org_id=org_id,
                        run_id=run_id,
                        url=url,
                        payload=payload,
                        state="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            # Another tick (another daemon) recorded this run's event between our check and
            # our insert: the unique run_id keeps it to one.
            return False
        return True

    def load_by_org(self) -> list[OrgLoad]:
        """Every organization with events due now (leased or claimable), in no order.

        Leased events are due too (a claim does not move `next_attempt_at`), so this reads only
        the due part of the index, however many retries are scheduled for later.
        """
        now = utcnow()
        leased = sa.and_(
            webhook_events.c.lease_until.is_not(None), webhook_events.c.lease_until >= now
        )
        query = (
            sa.select(
                webhook_events.c.org_id,
                sa.func.count().filter(leased).label("leased"),
                sa.func.count().filter(sa.not_(leased)).label("claimable"),
                sa.func.min(webhook_events.c.next_attempt_at)
                .filter(sa.not_(leased))
                .label("oldest_due"),
            )
            .where(webhook_events.c.state == "pending", webhook_events.c.next_attempt_at <= now)
            .group_by(webhook_events.c.org_id)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
        return [OrgLoad(row.org_id, row.leased, row.claimable, row.oldest_due) for row in rows]

    def claim_due(
        self, lease: timedelta, limit: int, *, org_id: str | None = None
    ) -> list[WebhookEvent]:
        """Events due for an attempt (of `org_id` alone, if given), oldest due first, leased so
        no other tick attempts them meanwhile."""
        now = utcnow()
        free = sa.or_(webhook_events.c.lease_until.is_(None), webhook_events.c.lease_until < now)
        due = [webhook_events.c.state == "pending", webhook_events.c.next_attempt_at <= now, free]
        if org_id is not None:
            due.append(webhook_events.c.org_id == org_id)
        claimed = []
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(webhook_events)
                .where(*due)
                .order_by(webhook_events.c.next_attempt_at)
                .limit(limit)
            ).all()
            for row in rows:
                taken = conn.execute(
                    webhook_events.update()
                    .where(webhook_events.c.id == row.id, free)
                    .values(lease_until=now + lease)
                )
                if taken.rowcount:
                    claimed.append(
                        WebhookEvent(
                            id=row.id,
                            import_id=row.import_id,
                            org_id=row.org_id,
                            url=row.url,
                            payload=row.payload,
                            attempts=row.attempts,
                        )
                    )
        return claimed

    def record_attempt(
        self,
        event: WebhookEvent,
        *,
        attempted_at: datetime,
        outcome: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        retry_in_s: float | None,
        final_state: str | None,
    ) -> None:
        """Store the attempt; either schedule the next one or close the event."""
        attempt = event.attempts + 1
        with self._engine.begin() as conn:
            conn.execute(
                webhook_attempts.insert().values(
                    event_id=event.id,
                    attempt=attempt,
                    attempted_at=attempted_at,
                    outcome=outcome,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                    logged=False,
                )
            )
            values: dict[str, Any] = {"attempts": attempt, "lease_until": None}
            if final_state is not None:
                values.update(state=final_state, finished_at=utcnow())
            else:
                values["next_attempt_at"] = utcnow() + timedelta(seconds=retry_in_s or 0)
            conn.execute(
                webhook_events.update().where(webhook_events.c.id == event.id).values(**values)
            )

    def take_unlogged_attempts(self) -> list[WebhookAttempt]:
        """Attempts not yet written to a sensor tick's log (marked logged as they are taken)."""
        joined = webhook_attempts.join(webhook_events)
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(webhook_attempts, webhook_events.c.import_id)
                .select_from(joined)
                .where(webhook_attempts.c.logged.is_(False))
                .order_by(webhook_attempts.c.id)
            ).all()
            if rows:
                conn.execute(
                    webhook_attempts.update()
                    .where(webhook_attempts.c.id.in_([row.id for row in rows]))
                    .values(logged=True)
                )
        return [_attempt(row) for row in rows]

    def deliveries(self, import_id: str) -> list[WebhookEventRecord]:
        """Every event of the import with its attempts, oldest first."""
        with self._engine.begin() as conn:
            events = conn.execute(
                sa.select(webhook_events)
                .where(webhook_events.c.import_id == import_id)
                .order_by(webhook_events.c.created_at)
            ).all()
            attempts = conn.execute(
                sa.select(webhook_attempts, webhook_events.c.import_id)
                .select_from(webhook_attempts.join(webhook_events))
                .where(webhook_events.c.import_id == import_id)
                .order_by(webhook_attempts.c.id)
            ).all()
        by_event: dict[str, list[WebhookAttempt]] = {}
        for row in attempts:
            by_event.setdefault(row.event_id, []).append(_attempt(row))
        records = []
        for event in events:
            records.append(
                WebhookEventRecord(
                    id=event.id,
                    run_id=event.run_id,
                    url=event.url,
                    state=event.state,
                    created_at=event.created_at,
                    next_attempt_at=event.next_attempt_at if event.state == "pending" else None,
                    attempts=by_event.get(event.id, []),
                )
            )
        return records
