"""The claim both submission outboxes take (accepted imports, requested reverts) before one API
process submits a row's run."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.tables import utcnow


def claim_submission(
    engine: Engine, table: sa.Table, row: sa.ColumnElement[bool], lease: timedelta
) -> bool:
    """Make this process the only submitter of `table`'s `row` for `lease`; False if the row is
    submitted already or another process holds an unexpired claim.

    One conditional UPDATE, so of two processes claiming at once exactly one changes the row:
    PostgreSQL makes the second UPDATE wait for the first and re-check its WHERE against the
    committed row.
    """
    now = utcnow()
    claimed_until = table.c.submit_claimed_until
    with engine.begin() as conn:
        result = conn.execute(
            table.update()
            .where(
                row,
                table.c.submitted_at.is_(None),
                sa.or_(claimed_until.is_(None), claimed_until < now),
            )
            .values(submit_claimed_until=now + lease)
        )
    return result.rowcount == 1
