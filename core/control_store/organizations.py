"""Organizations, their webhook signing secrets, and their API keys (stored as hashes only).

An organization is created on first use (a key, a user or a secret asked for), so the other
groups call `Organizations.ensure` rather than insert rows here themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.tables import api_keys, as_utc, organizations, utcnow

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


def new_secret() -> str:
    """A fresh signing secret in the `whsec_<base64>` form every Standard Webhooks library reads."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


class Organizations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure(self, org_id: str) -> str:
        """Create the organization if needed; returns its webhook secret."""
        with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
            conn.execute(
                organizations.update()
                .where(organizations.c.id == org_id)
                .values(webhook_secret=secret)
            )
        return secret

    def webhook_secret(self, org_id: str) -> str | None:
        with self._engine.begin() as conn:
            return conn.scalar(
                sa.select(organizations.c.webhook_secret).where(organizations.c.id == org_id)
            )

    def create_api_key(self, org_id: str) -> CreatedKey:
        self.ensure(org_id)
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(8)
        with self._engine.begin() as conn:
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
            created_at = as_utc(row.created_at)
            assert created_at is not None
            records.append(
                ApiKeyRecord(
                    key_id=row.id,
                    org_id=row.org_id,
                    hint=row.key_hint,
                    created_at=created_at,
                    revoked_at=as_utc(row.revoked_at),
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
