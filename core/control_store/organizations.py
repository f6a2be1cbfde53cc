"""Organizations, their webhook signing secrets, and their API keys (stored as hashes only).

An organization is created only when asked for (`ensure`, or `create_org=True` on a key or a
user), and only under an id that follows the grammar of `core.contracts.org_ids`; the other
groups call `Organizations.ensure` rather than insert rows here themselves. A key or a user for
an organization that does not exist raises UnknownOrganization, so a mistyped id creates nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.contracts.org_ids import valid_org_id
from core.control_store.tables import api_keys, organizations, utcnow

API_KEY_PREFIX = "oliai_"


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    api_key: str
    org_id: str


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key as listed: never the key, only its first characters (`hint`)."""

    key_id: str
    org_id: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None


class UnknownOrganization(LookupError):
    """No organization has this id (and creating one was not asked for)."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"No organization {org_id!r} exists.")
        self.org_id = org_id


def new_secret() -> str:
    """A fresh signing secret in the `whsec_<base64>` form every Standard Webhooks library reads."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


class Organizations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure(self, org_id: str) -> str:
        """Create the organization if needed; returns its webhook secret.

        Raises InvalidOrgId for an id off the grammar, before any row is read or written."""
        with self._engine.begin() as conn:
            return organization_secret(conn, org_id, create=True)

    def exists(self, org_id: str) -> bool:
        with self._engine.begin() as conn:
            query = sa.select(organizations.c.id).where(organizations.c.id == org_id)
            return conn.scalar(query) is not None

    def rotate_webhook_secret(self, org_id: str) -> str:
        """Raises UnknownOrganization rather than create one."""
        secret = new_secret()
        with self._engine.begin() as conn:
            result = conn.execute(
                organizations.update()
                .where(organizations.c.id == org_id)
                .values(webhook_secret=secret)
            )
        if result.rowcount == 0:
            raise UnknownOrganization(org_id)
        return secret

    def webhook_secret(self, org_id: str) -> str | None:
        with self._engine.begin() as conn:
            return conn.scalar(
                sa.select(organizations.c.webhook_secret).where(organizations.c.id == org_id)
            )

    def create_api_key(self, org_id: str, *, create_org: bool = False) -> CreatedKey:
        """A new key of `org_id`. Raises InvalidOrgId for an id off the grammar (even one already
        in the store) and UnknownOrganization if it does not exist and `create_org` is false."""
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(8)
        with self._engine.begin() as conn:
            organization_secret(conn, org_id, create=create_org)
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

    def list_api_keys(self, org_id: str) -> list[ApiKeyRecord]:
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(api_keys)
                .where(api_keys.c.org_id == org_id)
                .order_by(api_keys.c.created_at)
            ).all()
        records = []
        for row in rows:
            records.append(
                ApiKeyRecord(
                    key_id=row.id,
                    org_id=row.org_id,
                    hint=row.key_hint,
                    created_at=row.created_at,
                    revoked_at=row.revoked_at,
                )
            )
        return records

    def revoke_api_key(self, key_id: str) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return result.rowcount > 0

    def organization_for_key(self, api_key: str) -> str | None:
        """The key's organization, or None for unknown and revoked keys."""
        key_hash = hash_api_key(api_key)
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(api_keys.c.key_hash, api_keys.c.org_id).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, key_hash):
            return None
        return str(row.org_id)


def organization_secret(conn: Connection, org_id: str, *, create: bool) -> str:
    """The organization's webhook secret, in the caller's transaction so that the row it writes
    next cannot belong to an organization that is not there (nor leave a new one behind if that
    write fails). Raises InvalidOrgId for an id off the grammar (checked first, even for an id
    already in the store), UnknownOrganization if it does not exist and `create` is false.
    """
    valid_org_id(org_id)
    secret = conn.scalar(
        sa.select(organizations.c.webhook_secret).where(organizations.c.id == org_id)
    )
    if secret is None:
        if not create:
            raise UnknownOrganization(org_id)
        secret = new_secret()
        conn.execute(
            organizations.insert().values(id=org_id, webhook_secret=secret, created_at=utcnow())
        )
    return str(secret)
