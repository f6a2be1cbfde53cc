"""Contacts UI passwords: Argon2id (memory-hard) through argon2-cffi, PHC strings in the store."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # bounds the hashing work one login can cause

# argon2-cffi's defaults follow RFC 9106's second recommendation: Argon2id, 64 MiB, t=3, p=4.
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so both answers take as long."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why the password cannot be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must have at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"The password must have at most {MAX_LENGTH} characters."
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (pass None for an unknown user)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True once the parameters above grow: the next sign-in stores a stronger hash."""
    return _HASHER.check_needs_rehash(password_hash)
