"""The control store: organizations, API key hashes, webhook secrets, accepted imports
(the submission outbox and history), webhook deliveries, and the Contacts UI's users and uploads.

SQLAlchemy Core on PostgreSQL, schema `control` of the server the lake's catalog is on: the
private server `oliai up` runs, or an external one (`engine.py`). The API's replicas, the Dagster
sensor and `oliai` commands all write here; a SQLite store of an earlier release is moved in
once (`legacy.py`).

One module per group of tables, so a caller reads only the queries it uses and each group's
records live beside them: `organizations` (organizations, webhook secrets, API keys), `users`
(Contacts UI users and uploads), `imports` (accepted imports, the submission outbox and its
leases, idempotency) and `webhooks` (events and their attempts). `ControlStore` holds the one
engine and one object per group. The store returns records; wire shapes are built by the API
and the CLI.
"""

from core.control_store.store import ControlStore

__all__ = ["ControlStore"]
