"""Requested reverts: one row per reverted import, written before the API answers (an accepted
revert is never lost), then drained by the API's submitters like the imports' outbox: claimed
under a lease, submitted as a `revert_import` run, the run id recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from core.control_store import outbox
from core.control_store.tables import reverts, utcnow


@dataclass(frozen=True)
class RevertRecord:
    import_id: str
    org_id: str
    created_at: datetime
    run_id: str | None


def _record(row: sa.Row[Any]) -> RevertRecord:
    return RevertRecord(row.import_id, row.org_id, row.created_at, row.run_id)


class Reverts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def request(self, import_id: str, org_id: str) -> tuple[RevertRecord, bool]:
        """The import's revert request, recorded now if it had none; True if this call made it
        (of two concurrent requests exactly one does: the import id is the key)."""
        with self._engine.begin() as conn:
            made = conn.execute(
                insert(reverts)
                .values(import_id=import_id, org_id=org_id, created_at=utcnow(), submit_attempts=0)
                .on_conflict_do_nothing(index_elements=[reverts.c.import_id])
            ).rowcount
            row = conn.execute(sa.select(reverts).where(reverts.c.import_id == import_id)).one()
        return _record(row), made == 1

    def get_many(self, import_ids: Sequence[str]) -> dict[str, RevertRecord]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(reverts).where(reverts.c.import_id.in_(list(import_ids)))
            ).all()
        return {row.import_id: _record(row) for row in rows}

    def unsubmitted(self, limit: int = 1000) -> list[RevertRecord]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(reverts)
                .where(reverts.c.submitted_at.is_(None))
                .order_by(reverts.c.created_at)
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def claim_submission(self, import_id: str, lease: timedelta) -> bool:
        """Make this process the revert's only submitter for `lease` (`outbox.claim_submission`)."""
        return outbox.claim_submission(
            self._engine, reverts, reverts.c.import_id == import_id, lease
        )

    def record_submission(self, import_id: str, run_id: str) -> None:
        self._update(
            import_id,
            submitted_at=utcnow(),
            run_id=run_id,
            last_submit_error=None,
            submit_claimed_until=None,
        )

    def record_submit_failure(self, import_id: str, error: str) -> None:
        self._update(
            import_id,
            submit_attempts=reverts.c.submit_attempts + 1,
            last_submit_error=error[:2000],
            submit_claimed_until=None,
        )

    def _update(self, import_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(reverts.update().where(reverts.c.import_id == import_id).values(**values))
