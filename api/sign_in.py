"""The Contacts UI's sign-in rule, apart from the pages that render it (api/controllers/ui.py).

One place decides whether an email and password sign in: the throttle is checked first (a
throttled attempt does no password work), an unknown email costs the same Argon2 verify as a
wrong password (no user-existence oracle by timing), failures and successes are counted per
(email, client address), and a hash made with older parameters is replaced on success. The
controller only turns the outcome into a page or a session.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.ui_auth import LoginThrottle
from core.control_store import ControlStore
from core.control_store.users import UserRecord
from core.passwords import hash_password, needs_rehash, verify_password


@dataclass(frozen=True)
class SignedIn:
    user: UserRecord


@dataclass(frozen=True)
class Throttled:
    """Too many recent failures for this email and client: retry in `wait_s` seconds."""

    wait_s: int


@dataclass(frozen=True)
class WrongCredentials:
    """Unknown email or wrong password (the same outcome, on purpose)."""


SignInOutcome = SignedIn | Throttled | WrongCredentials


class SignInService:
    def __init__(self, store: ControlStore, throttle: LoginThrottle) -> None:
        self._store = store
        self._throttle = throttle

    def sign_in(self, email: str, password: str, client: str) -> SignInOutcome:
        """`email` as the form gave it, normalized (stripped, lowercased) by the caller; blocks
        for the password check (~50 ms), so call it off the event loop."""
        wait = self._throttle.retry_after(email, client)
        if wait is not None:
            return Throttled(wait)
        user = self._store.users.user_by_email(email) if email else None
        hashed = user.password_hash if user else None
        if not verify_password(hashed, password) or user is None:
            self._throttle.failed(email, client)
            return WrongCredentials()
        self._throttle.succeeded(email, client)
        if needs_rehash(user.password_hash):
            self._store.users.set_password_hash(user.id, hash_password(password))
        return SignedIn(user)
