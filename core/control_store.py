"""The control store: organizations, API key hashes, webhook secrets, accepted imports
(the submission outbox and history), webhook deliveries, and the Contacts UI's users and uploads.

SQLAlchemy Core on a URL: a SQLite file by default, Postgres when scaled out. The API and the
Dagster sensor both write here, so SQLite runs in WAL mode with a busy timeout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

API_KEY_PREFIX = "oliai_"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
# An accepting row older than this belongs to a request that died before its 202.
STALE_ACCEPTING = timedelta(minutes=5)

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
class CreatedKey:
    key_id: str
    api_key: str
    org_id: str


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


@dataclass(frozen=True)
class UserRecord:
    id: str
    org_id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class UploadRecord:
    import_id: str
    user_id: str
    file_name: str
    file_format: str
    row_map: list[list[int]]


class UserExists(Exception):
    """A user with this email already exists (emails are unique across organizations)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key is already taken; `existing` tells by which import."""

    def __init__(self, existing: ImportRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


def new_secret() -> str:
    """A fresh signing secret in the `whsec_<base64>` form every Standard Webhooks library reads."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def _as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands timezone-aware columns back naive.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _import_record(row: sa.Row[Any]) -> ImportRecord:
    created_at = _as_utc(row.created_at)
    assert created_at is not None
    return ImportRecord(
        id=row.id,
        org_id=row.org_id,
        state=row.state,
        created_at=created_at,
        total=row.total,
        audience_id=row.audience_id,
        webhook_url=row.webhook_url,
        landing_path=row.landing_path,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        submitted_at=_as_utc(row.submitted_at),
        run_id=row.run_id,
    )


def _attempt(row: sa.Row[Any]) -> WebhookAttempt:
    attempted_at = _as_utc(row.attempted_at)
    assert attempted_at is not None
    return WebhookAttempt(
        event_id=row.event_id,
        import_id=row.import_id,
        attempt=row.attempt,
        attempted_at=attempted_at,
        outcome=row.outcome,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
    )


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a 202 must survive a power cut too
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_control_engine(url: str) -> Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
    metadata.create_all(engine)
    _add_submit_claim_column(engine)
    return engine


def _has_submit_claim_column(engine: Engine) -> bool:
    return any(
        column["name"] == "submit_claimed_until"
        for column in sa.inspect(engine).get_columns("imports")
    )


def _add_submit_claim_column(engine: Engine) -> None:
    # `create_all` creates missing tables, never missing columns, and control stores made
    # before submission leases still hold imports to submit: the one upgrade this store has
    # needed, so it is done here rather than with a migration tool.
    if _has_submit_claim_column(engine):
        return
    column_type = imports.c.submit_claimed_until.type.compile(dialect=engine.dialect)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"ALTER TABLE imports ADD COLUMN submit_claimed_until {column_type}")
            )
    except sa.exc.DBAPIError:
        # Another API process starting at the same moment added it first.
        if not _has_submit_claim_column(engine):
            raise


class ControlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> ControlStore:
        return cls(create_control_engine(url))

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    # Organizations and keys

    def ensure_organization(self, org_id: str) -> str:
        """Create the organization if needed; returns its webhook secret."""
        with self._begin() as conn:
            secret = conn.scalar(
                sa.select(organizations.c.webhook_secret).where(organizations.c.id == org_id)
            )
            if secret is None:
                secret = new_secret()
                conn.execute(
                    organizations.insert().values(
                        id=org_id, webhook_secret=secret, created_at=utcnow()
                    )
                )
            return str(secret)

    def rotate_webhook_secret(self, org_id: str) -> str:
        secret = new_secret()
        with self._begin() as conn:
            conn.execute(
                organizations.update()
                .where(organizations.c.id == org_id)
                .values(webhook_secret=secret)
            )
        return secret

    def webhook_secret(self, org_id: str) -> str | None:
        with self._begin() as conn:
            return conn.scalar(
                sa.select(organizations.c.webhook_secret).where(organizations.c.id == org_id)
            )

    def create_api_key(self, org_id: str) -> CreatedKey:
        self.ensure_organization(org_id)
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(8)
        with self._begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    org_id=org_id,
                    key_hash=hash_api_key(api_key),
                    key_hint=api_key[: len(API_KEY_PREFIX) + 4],
                    created_at=utcnow(),
                )
            )
        return CreatedKey(key_id=key_id, api_key=api_key, org_id=org_id)

    def list_api_keys(self, org_id: str) -> list[dict[str, Any]]:
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(api_keys)
                .where(api_keys.c.org_id == org_id)
                .order_by(api_keys.c.created_at)
            ).all()
        return [
            {
                "keyId": row.id,
                "orgId": row.org_id,
                "hint": row.key_hint + "…",
                "createdAt": _as_utc(row.created_at),
                "revokedAt": _as_utc(row.revoked_at),
            }
            for row in rows
        ]

    def revoke_api_key(self, key_id: str) -> bool:
        with self._begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return result.rowcount > 0

    def organization_for_key(self, api_key: str) -> str | None:
        """The key's organization, or None for unknown and revoked keys."""
        key_hash = hash_api_key(api_key)
        with self._begin() as conn:
            row = conn.execute(
                sa.select(api_keys.c.key_hash, api_keys.c.org_id).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, key_hash):
            return None
        return str(row.org_id)

    # Contacts UI users and uploads

    def create_user(self, org_id: str, email: str, password_hash: str) -> UserRecord:
        """Raises UserExists if the email (compared lowercased) is taken."""
        self.ensure_organization(org_id)
        user = UserRecord(
            id="usr_" + secrets.token_hex(8),
            org_id=org_id,
            email=email.strip().lower(),
            password_hash=password_hash,
        )
        try:
            with self._begin() as conn:
                conn.execute(
                    users.insert().values(
                        id=user.id,
                        org_id=user.org_id,
                        email=user.email,
                        password_hash=user.password_hash,
                        created_at=utcnow(),
                    )
                )
        except sa.exc.IntegrityError:
            raise UserExists(user.email) from None
        return user

    def _user_where(self, *criteria: Any) -> UserRecord | None:
        with self._begin() as conn:
            row = conn.execute(sa.select(users).where(*criteria)).first()
        if row is None:
            return None
        return UserRecord(
            id=row.id, org_id=row.org_id, email=row.email, password_hash=row.password_hash
        )

    def user_by_email(self, email: str) -> UserRecord | None:
        return self._user_where(users.c.email == email.strip().lower())

    def get_user(self, user_id: str) -> UserRecord | None:
        return self._user_where(users.c.id == user_id)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._begin() as conn:
            conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )

    def record_upload(
        self,
        *,
        import_id: str,
        org_id: str,
        user_id: str,
        file_name: str,
        file_format: str,
        row_map: list[list[int]],
    ) -> None:
        with self._begin() as conn:
            conn.execute(
                uploads.insert().values(
                    import_id=import_id,
                    org_id=org_id,
                    user_id=user_id,
                    file_name=file_name[:255],
                    file_format=file_format,
                    row_map=json.dumps(row_map, separators=(",", ":")),
                    created_at=utcnow(),
                )
            )

    def uploads_for(self, org_id: str, import_ids: list[str]) -> dict[str, UploadRecord]:
        """The upload behind each of these imports, for those that came from a file."""
        if not import_ids:
            return {}
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(uploads).where(
                    uploads.c.org_id == org_id, uploads.c.import_id.in_(import_ids)
                )
            ).all()
        return {
            row.import_id: UploadRecord(
                import_id=row.import_id,
                user_id=row.user_id,
                file_name=row.file_name,
                file_format=row.file_format,
                row_map=json.loads(row.row_map),
            )
            for row in rows
        }

    # Imports: reservation, acceptance, submission outbox, history

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
        with self._begin() as conn:
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
        with self._begin() as conn:
            conn.execute(imports.update().where(imports.c.id == import_id).values(state="accepted"))

    def discard_import(self, import_id: str) -> None:
        """Undo a reservation whose request could not be accepted."""
        with self._begin() as conn:
            conn.execute(imports.delete().where(imports.c.id == import_id))

    def get_import(self, org_id: str, import_id: str) -> ImportRecord | None:
        with self._begin() as conn:
            row = conn.execute(
                sa.select(imports).where(
                    imports.c.id == import_id,
                    imports.c.org_id == org_id,
                    imports.c.state == "accepted",
                )
            ).first()
        return None if row is None else _import_record(row)

    def get_import_by_id(self, import_id: str) -> ImportRecord | None:
        with self._begin() as conn:
            row = conn.execute(sa.select(imports).where(imports.c.id == import_id)).first()
        return None if row is None else _import_record(row)

    def list_imports(
        self, org_id: str, *, offset: int, limit: int
    ) -> tuple[list[ImportRecord], int]:
        accepted = sa.and_(imports.c.org_id == org_id, imports.c.state == "accepted")
        with self._begin() as conn:
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
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(imports)
                .where(imports.c.state == "accepted", imports.c.submitted_at.is_(None))
                .order_by(imports.c.created_at)
                .limit(limit)
            ).all()
        return [_import_record(row) for row in rows]

    def claim_submission(self, import_id: str, lease: timedelta) -> bool:
        """Make this process the import's only submitter for `lease`; False if the import is
        submitted already or another process holds an unexpired claim.

        One conditional UPDATE, so of two processes claiming at once exactly one changes the
        row: SQLite runs one writer at a time, and Postgres makes the second UPDATE wait for the
        first and re-check its WHERE against the committed row.
        """
        now = utcnow()
        claim = imports.c.submit_claimed_until
        with self._begin() as conn:
            result = conn.execute(
                imports.update()
                .where(
                    imports.c.id == import_id,
                    imports.c.state == "accepted",
                    imports.c.submitted_at.is_(None),
                    sa.or_(claim.is_(None), claim < now),
                )
                .values(submit_claimed_until=now + lease)
            )
        return result.rowcount == 1

    def record_submission(self, import_id: str, run_id: str) -> None:
        with self._begin() as conn:
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
        with self._begin() as conn:
            conn.execute(
                imports.update()
                .where(imports.c.id == import_id)
                .values(
                    submit_attempts=imports.c.submit_attempts + 1,
                    last_submit_error=error[:2000],
                    submit_claimed_until=None,
                )
            )

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    # Webhook events and their attempts

    def enqueue_webhook(
        self, *, event_id: str, import_id: str, org_id: str, run_id: str, url: str, payload: str
    ) -> bool:
        """Record an import.completed event once per run; False if it was already recorded."""
        now = utcnow()
        with self._begin() as conn:
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
        return True

    def claim_due_webhooks(self, lease: timedelta, limit: int) -> list[WebhookEvent]:
        """Events due for an attempt, leased so no other tick attempts them meanwhile."""
        now = utcnow()
        free = sa.or_(webhook_events.c.lease_until.is_(None), webhook_events.c.lease_until < now)
        claimed = []
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(webhook_events)
                .where(
                    webhook_events.c.state == "pending",
                    webhook_events.c.next_attempt_at <= now,
                    free,
                )
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

    def record_webhook_attempt(
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
        with self._begin() as conn:
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
        with self._begin() as conn:
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

    def webhook_deliveries(self, import_id: str) -> list[dict[str, Any]]:
        """Every event of the import with its attempts, oldest first."""
        with self._begin() as conn:
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
        by_event: dict[str, list[dict[str, Any]]] = {}
        for row in attempts:
            by_event.setdefault(row.event_id, []).append(
                {
                    "attempt": row.attempt,
                    "attemptedAt": _as_utc(row.attempted_at),
                    "outcome": row.outcome,
                    "statusCode": row.status_code,
                    "error": row.error,
                    "durationMs": row.duration_ms,
                }
            )
        return [
            {
                "id": event.id,
                "runId": event.run_id,
                "url": event.url,
                "state": event.state,
                "createdAt": _as_utc(event.created_at),
                "nextAttemptAt": _as_utc(event.next_attempt_at)
                if event.state == "pending"
                else None,
                "attempts": by_event.get(event.id, []),
            }
            for event in events
        ]
