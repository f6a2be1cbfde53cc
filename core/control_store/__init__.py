"""The control store: organizations, API key hashes, webhook secrets, accepted imports
(the submission outbox and history), webhook deliveries, and the Contacts UI's users and uploads.

SQLAlchemy Core on a URL: a SQLite file by default, Postgres when scaled out. The API and the
Dagster sensor both write here, so SQLite runs in WAL mode with a busy timeout (`engine.py`).

One module per group of tables, so a caller reads only the queries it uses and each group's
records live beside them: `organizations` (organizations, webhook secrets, API keys), `users`
(Contacts UI users and uploads), `imports` (accepted imports, the submission outbox and its
leases, idempotency) and `webhooks` (events and their attempts). `ControlStore` holds the one
engine and one object per group. The store returns records; wire shapes are built by the API
and the CLI.
"""

from core.control_store.store import ControlStore

__all__ = ["ControlStore"]
