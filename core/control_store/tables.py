"""The control store's tables, in one `MetaData`, and the conversion of their timestamps.

Kept apart from the queries so that the engine can create the schema without importing any
group's code, and tests and tools can read a table directly. Every timestamp column is
timezone-aware, read back in UTC (the engine's sessions run in UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("webhook_secret", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_hint", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # accepting | accepted
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("audience_id", sa.Text),
    sa.Column("webhook_url", sa.Text),
    sa.Column("landing_path", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("submit_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_submit_error", sa.Text),
    # Which submitter may submit the import: several API processes drain the one outbox.
    sa.Column("submit_claimed_until", sa.DateTime(timezone=True)),
    sa.Index("ix_imports_org_created", "org_id", "created_at"),
    sa.Index("ux_imports_idempotency", "org_id", "idempotency_key", unique=True),
)


# A requested revert of an import (issue 18): at most one per import, recorded before the API
# answers, then submitted as a `revert_import` run by the API's submitters (the same outbox
# pattern and leases as `imports`).
reverts = sa.Table(
    "reverts",
    metadata,
    sa.Column("import_id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("submit_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_submit_error", sa.Text),
    sa.Column("submit_claimed_until", sa.DateTime(timezone=True)),
)


webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the stable `webhook-id`
    sa.Column("import_id", sa.String(40), nullable=False, index=True),
    sa.Column("org_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),  # one event per ended run
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column(
        "state", sa.String(16), nullable=False
    ),  # pending | delivered | gone | blocked | exhausted
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Index("ix_webhook_events_due", "state", "next_attempt_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.ForeignKey("webhook_events.id"), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("logged", sa.Boolean, nullable=False, default=False),
)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # stored lowercased
    sa.Column("password_hash", sa.Text, nullable=False),  # Argon2id, PHC string
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# A file imported through the Contacts UI: who uploaded what, and where each contact came from.
# `row_map` is JSON `[[first_index, first_row, length], ...]`: runs of contacts whose file rows
# are consecutive (a plain CSV is one run), so 100,000 rows cost a few bytes.
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("import_id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_format", sa.String(16), nullable=False),
    sa.Column("row_map", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)
