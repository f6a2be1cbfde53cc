"""What the doc-claims tests share: the stack's processes, and the control store's clock.

The control store has no clock seam: expiry (idempotency keys, stale reservations) and retry
schedules are timestamps in its rows, compared with the wall clock. To test "after 24 hours" or
"the next attempt is due" without waiting, these helpers move a row's timestamp in the test
stack's own control store (schema `control` on its PostgreSQL), through plain SQL on the
documented tables (not the store's Python API).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psutil
import psycopg
from psycopg.rows import dict_row

from tests.stack import Stack


@contextmanager
def control_db(stack: Stack) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with (
        stack.postgres_url() as url,
        psycopg.connect(url, row_factory=dict_row, options="-csearch_path=control") as conn,
    ):
        yield conn  # one transaction, committed on exit


def import_row(stack: Stack, import_id: str) -> dict[str, Any] | None:
    with control_db(stack) as conn:
        return conn.execute("SELECT * FROM imports WHERE id = %s", (import_id,)).fetchone()


def imports_of(stack: Stack, org_id: str) -> list[dict[str, Any]]:
    """Every row of the organization, accepted or not (the API lists only accepted ones)."""
    with control_db(stack) as conn:
        return conn.execute("SELECT * FROM imports WHERE org_id = %s", (org_id,)).fetchall()


def set_import_age(stack: Stack, import_id: str, age: timedelta) -> None:
    """Make the import's first request `age` old."""
    with control_db(stack) as conn:
        changed = conn.execute(
            "UPDATE imports SET created_at = now() - %s WHERE id = %s", (age, import_id)
        ).rowcount
    assert changed == 1, import_id


def make_webhook_due(stack: Stack, event_id: str) -> None:
    """Bring a pending event's next attempt forward to now (its creation time is past)."""
    with control_db(stack) as conn:
        changed = conn.execute(
            "UPDATE webhook_events SET next_attempt_at = created_at"
            " WHERE id = %s AND state = 'pending'",
            (event_id,),
        ).rowcount
    assert changed == 1, f"{event_id} is not pending"


def child(stack: Stack, marker: str) -> psutil.Process:
    """The `oliai up` child whose command line contains `marker` (dagster-webserver,
    dagster-daemon, uvicorn, code-server)."""
    assert stack.process is not None
    for process in psutil.Process(stack.process.pid).children():
        try:
            if marker in " ".join(process.cmdline()):
                return process
        except psutil.Error:
            continue
    raise AssertionError(f"no {marker} child of oliai up")
