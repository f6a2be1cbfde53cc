"""What the doc-claims tests share: the stack's processes, and the control store's clock.

The control store has no clock seam: expiry (idempotency keys, stale reservations) and retry
schedules are timestamps in its rows, compared with the wall clock. To test "after 24 hours" or
"the next attempt is due" without waiting, these helpers move a row's timestamp in the test
stack's own SQLite file, through plain SQL on the documented tables (not the store's Python API).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from tests.stack import Stack

# How SQLAlchemy stores a DateTime in SQLite (UTC here, without an offset).
STORE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@contextmanager
def control_db(stack: Stack) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(stack.data_dir / "control.db", timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        with conn:  # one transaction, committed on exit
            yield conn


def import_row(stack: Stack, import_id: str) -> dict[str, Any] | None:
    with control_db(stack) as conn:
        row = conn.execute("SELECT * FROM imports WHERE id = ?", (import_id,)).fetchone()
    return None if row is None else dict(row)


def imports_of(stack: Stack, org_id: str) -> list[dict[str, Any]]:
    """Every row of the organization, accepted or not (the API lists only accepted ones)."""
    with control_db(stack) as conn:
        rows = conn.execute("SELECT * FROM imports WHERE org_id = ?", (org_id,)).fetchall()
    return [dict(row) for row in rows]


def set_import_age(stack: Stack, import_id: str, age: timedelta) -> None:
    """Make the import's first request `age` old."""
    stored = import_row(stack, import_id)
    assert stored is not None, import_id
    # The format this helper writes is the one the store wrote.
    datetime.strptime(stored["created_at"], STORE_TIME_FORMAT)
    when = (datetime.now(UTC) - age).strftime(STORE_TIME_FORMAT)
    with control_db(stack) as conn:
        conn.execute("UPDATE imports SET created_at = ? WHERE id = ?", (when, import_id))


def make_webhook_due(stack: Stack, event_id: str) -> None:
    """Bring a pending event's next attempt forward to now (its creation time is past)."""
    with control_db(stack) as conn:
        changed = conn.execute(
            "UPDATE webhook_events SET next_attempt_at = created_at"
            " WHERE id = ? AND state = 'pending'",
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
