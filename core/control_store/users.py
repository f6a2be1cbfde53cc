"""The Contacts UI's users (emails unique across organizations, Argon2id hashes) and the files
they uploaded, with the run-length map from each contact back to its file row.

Apart from imports because only the UI writes these: the JSON API and the code location never
touch them.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.control_store.organizations import organization_secret
from core.control_store.tables import uploads, users, utcnow


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


class Users:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_user(
        self, org_id: str, email: str, password_hash: str, *, create_org: bool = False
    ) -> UserRecord:
        """Raises UserExists if the email (compared lowercased) is taken, InvalidOrgId for an
        organization id off the grammar, UnknownOrganization if the organization does not exist
        and `create_org` is false."""
        user = UserRecord(
            id="usr_" + secrets.token_hex(8),
            org_id=org_id,
            email=email.strip().lower(),
            password_hash=password_hash,
        )
        try:
            with self._engine.begin() as conn:
                organization_secret(conn, org_id, create=create_org)
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
        with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
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
        with self._engine.begin() as conn:
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
