"""Accepted imports: the reservation a bulk request makes (with its Idempotency-Key), the
submission outbox the API's submitters drain under leases, and the history the API lists.

One group because these are one row's life: `accepting` → `accepted` → submitted with a run id;
the idempotency and lease rules are conditions on that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.control_store import outbox
from core.control_store.tables import imports, utcnow

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# An accepting row older than this belongs to a request that died before its 202.
STALE_ACCEPTING = timedelta(minutes=5)


@dataclass(frozen=True)
class ImportRecord:
    id: str
    org_id: str
    state: str
    created_at: datetime
    total: int
    audience_id: str | None
    webhook_url: str | None
    landing_path: str
    idempotency_key: str | None
    request_hash: str
    submitted_at: datetime | None
    run_id: str | None


class IdempotencyConflict(Exception):
    """The Idempotency-Key is already taken; `existing` tells by which import."""

    def __init__(self, existing: ImportRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


def _import_record(row: sa.Row[Any]) -> ImportRecord:
    return ImportRecord(
        id=row.id,
        org_id=row.org_id,
        state=row.state,
        created_at=row.created_at,
        total=row.total,
        audience_id=row.audience_id,
        webhook_url=row.webhook_url,
        landing_path=row.landing_path,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        submitted_at=row.submitted_at,
        run_id=row.run_id,
    )


class Imports:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reserve_import(
        self,
        *,
        import_id: str,
        org_id: str,
        total: int,
        audience_id: str | None,
        webhook_url: str | None,
        landing_path: str,
        idempotency_key: str | None,
        request_hash: str,
    ) -> None:
        """Insert the import as `accepting`; raises IdempotencyConflict if the key is taken."""
        values = {
            "id": import_id,
            "org_id": org_id,
            "state": "accepting",
            "created_at": utcnow(),
            "total": total,
            "audience_id": audience_id,
            "webhook_url": webhook_url,
            "landing_path": landing_path,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "submit_attempts": 0,
        }
        with self._engine.begin() as conn:
            if idempotency_key is not None:
                self._release_expired_key(conn, org_id, idempotency_key)
            try:
                with conn.begin_nested():
                    conn.execute(imports.insert().values(**values))
            except sa.exc.IntegrityError:
                existing = conn.execute(
                    sa.select(imports).where(
                        imports.c.org_id == org_id, imports.c.idempotency_key == idempotency_key
                    )
                ).first()
                if existing is None:
                    raise
                raise IdempotencyConflict(_import_record(existing)) from None

    def _release_expired_key(self, conn: Connection, org_id: str, key: str) -> None:
        now = utcnow()
        conn.execute(
            imports.update()
            .where(
                imports.c.org_id == org_id,
                imports.c.idempotency_key == key,
                sa.or_(
                    imports.c.created_at < now - IDEMPOTENCY_WINDOW,
                    sa.and_(
                        imports.c.state == "accepting",
                        imports.c.created_at < now - STALE_ACCEPTING,
                    ),
                ),
            )
            .values(idempotency_key=None)
        )

    def mark_accepted(self, import_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(imports.update().where(imports.c.id == import_id).values(state="accepted"))

    def discard_import(self, import_id: str) -> None:
        """Undo a reservation whose request could not be accepted."""
        with self._engine.begin() as conn:
            conn.execute(imports.delete().where(imports.c.id == import_id))

    def get_import(self, org_id: str, import_id: str) -> ImportRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(imports).where(
                    imports.c.id == import_id,
                    imports.c.org_id == org_id,
                    imports.c.state == "accepted",
                )
            ).first()
        return None if row is None else _import_record(row)

    def get_import_by_id(self, import_id: str) -> ImportRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(imports).where(imports.c.id == import_id)).first()
        return None if row is None else _import_record(row)

    def list_imports(
        self, org_id: str, *, offset: int, limit: int
    ) -> tuple[list[ImportRecord], int]:
        accepted = sa.and_(imports.c.org_id == org_id, imports.c.state == "accepted")
        with self._engine.begin() as conn:
            total = conn.scalar(sa.select(sa.func.count()).select_from(imports).where(accepted))
            rows = conn.execute(
                sa.select(imports)
                .where(accepted)
                .order_by(imports.c.created_at.desc(), imports.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return [_import_record(row) for row in rows], int(total or 0)

    def unsubmitted_imports(self, limit: int = 1000) -> list[ImportRecord]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(imports)
                .where(imports.c.state == "accepted", imports.c.submitted_at.is_(None))
                .order_by(imports.c.created_at)
                .limit(limit)
            ).all()
        return [_import_record(row) for row in rows]

    def claim_submission(self, import_id: str, lease: timedelta) -> bool:
        """Make this process the accepted import's only submitter for `lease`
        (`outbox.claim_submission`)."""
        accepted = sa.and_(imports.c.id == import_id, imports.c.state == "accepted")
        return outbox.claim_submission(self._engine, imports, accepted, lease)

    def record_submission(self, import_id: str, run_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                imports.update()
                .where(imports.c.id == import_id)
                .values(
                    submitted_at=utcnow(),
                    run_id=run_id,
                    last_submit_error=None,
                    submit_claimed_until=None,
                )
            )

    def record_submit_failure(self, import_id: str, error: str) -> None:
        # The claim is released rather than left to expire: whichever submitter retries (each
        # backs off on failures) checks for an existing run first, so keeping it would only
        # delay the retry by up to a lease.
        with self._engine.begin() as conn:
            conn.execute(
                imports.update()
                .where(imports.c.id == import_id)
                .values(
                    submit_attempts=imports.c.submit_attempts + 1,
                    last_submit_error=error[:2000],
                    submit_claimed_until=None,
                )
            )
