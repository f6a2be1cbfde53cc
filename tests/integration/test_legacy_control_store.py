"""A SQLite control store of an earlier release (`<data dir>/control.db`) is moved into
PostgreSQL once, by whichever opens the store first (`oliai up` or an `oliai` command): keys keep
working, webhook history keeps growing, and a conflicting store is refused, never merged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.control_store import ControlStore
from core.control_store.legacy import LegacyStoreConflict, adopt_legacy_store
from core.control_store.tables import metadata, utcnow, webhook_attempts
from core.control_store.webhooks import WebhookEvent
from tests.stack import make_stack

pytestmark = pytest.mark.integration


def legacy_store(path: Path) -> tuple[str, str]:
    """A SQLite store as earlier releases made it, with an organization, a key and a webhook
    attempt; returns the key and the event's id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = ControlStore(sa.create_engine(f"sqlite:///{path}"))
    metadata.create_all(old.engine)
    created = old.organizations.create_api_key("legacy-org", create_org=True)
    old.webhooks.enqueue(
        event_id="msg_legacy",
        import_id="imp_legacy",
        org_id="legacy-org",
        run_id="run-legacy",
        url="https://example.com/hook",
        payload="{}",
    )
    (event,) = old.webhooks.claim_due(timedelta(seconds=60), 10)
    record_attempt(old, event)
    old.dispose()
    return created.api_key, event.id


def record_attempt(store: ControlStore, event: WebhookEvent) -> None:
    store.webhooks.record_attempt(
        event,
        attempted_at=utcnow(),
        outcome="http_error",
        status_code=500,
        error=None,
        duration_ms=12.0,
        retry_in_s=0.0,
        final_state=None,
    )


def test_an_oliai_command_moves_the_sqlite_store_in_once(tmp_path: Path) -> None:
    cli = make_stack(tmp_path / "data")
    legacy = cli.data_dir / "control.db"
    legacy_store(legacy)

    listed = cli.oliai("keys", "list", "--org", "legacy-org", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Moved the control store" in listed.stderr
    assert "(schema control): 1 api_keys, 1 organizations, 1 webhook_attempts" in listed.stderr
    assert len(json.loads(listed.stdout)) == 1
    assert not legacy.exists()
    assert (cli.data_dir / "control.db.migrated").exists()

    again = cli.oliai("keys", "list", "--org", "legacy-org", "--json")
    assert again.returncode == 0, again.stderr
    assert "Moved" not in again.stderr
    assert len(json.loads(again.stdout)) == 1


def test_the_moved_store_keeps_its_history_growing(
    tmp_path: Path, control_store: ControlStore
) -> None:
    api_key, event_id = legacy_store(tmp_path / "control.db")
    moved = adopt_legacy_store(tmp_path / "control.db", control_store)
    assert moved is not None

    assert control_store.organizations.organization_for_key(api_key) == "legacy-org"
    (event,) = control_store.webhooks.claim_due(timedelta(seconds=60), 10)
    assert (event.id, event.attempts) == (event_id, 1)
    # The copied attempt kept its id; the next one gets a new id, not a duplicate key.
    record_attempt(control_store, event)
    with control_store.engine.connect() as conn:
        ids = conn.scalars(sa.select(webhook_attempts.c.id).order_by(webhook_attempts.c.id)).all()
    assert len(ids) == 2
    assert ids[0] < ids[1]


def test_a_store_that_already_has_data_is_not_merged(
    tmp_path: Path, control_store: ControlStore
) -> None:
    control_store.organizations.ensure("already-here")
    legacy_store(tmp_path / "control.db")
    with pytest.raises(LegacyStoreConflict, match="already has data"):
        adopt_legacy_store(tmp_path / "control.db", control_store)
    assert (tmp_path / "control.db").exists()
    assert not control_store.organizations.exists("legacy-org")
