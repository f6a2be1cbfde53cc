"""Contacts UI sign-in: server-side sessions, CSRF, login throttling, the signed-in user.

- Sessions live in a `FileStore` under `<data dir>/sessions` (they survive an API restart); the
  cookie holds a random id only: HttpOnly, SameSite=Lax, Secure when the request is https (or
  per `OLIAI_COOKIE_SECURE`). The id is replaced at sign-in (no session fixation).
- CSRF: Litestar's double-submit middleware (token cookie + form field or `X-CSRFToken`),
  signed with a secret kept in `<data dir>/csrf-secret`. On `/v1` it only guards requests whose
  credential is the session cookie: API-key requests carry their credential in a header a
  cross-site page cannot set, and a request with neither gets the endpoint's own 401.
- Login throttling: in memory, per API process (see `LoginThrottle`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.file import FileStore
from litestar.types import Empty, Message, Receive, Scope, ScopeSession, Send

from api.auth import has_api_key_header
from core.control_store import ControlStore
from core.control_store.users import UserRecord

SESSION_COOKIE = "oliai_session"
CSRF_COOKIE = "oliai_csrf"
CSRF_HEADER = "x-csrftoken"
SESSION_MAX_AGE_S = 12 * 3600
_ROTATE = "oliai_rotate_session"


class UISessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, except: nothing is stored (and no cookie set) for a
    visitor who is not signed in, the id is replaced at sign-in (no session fixation), and the
    cookie is Secure when the request came over https unless the setting decides."""

    def __init__(self, config: ServerSideSessionConfig, secure: bool | None) -> None:
        super().__init__(config)
        self._secure = secure

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.setdefault("state", {})
        if state.get(_ROTATE) is True:
            state[_ROTATE] = self.generate_session_id()
        if isinstance(state.get(_ROTATE), str):
            return str(state[_ROTATE])
        return super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        store = self.config.get_store_from_app(connection.scope["app"])
        cookie_id = connection.cookies.get(self.config.key)
        secure = self._secure if self._secure is not None else connection.url.scheme == "https"
        params: dict[str, Any] = {
            "key": self.config.key,
            "path": self.config.path,
            "domain": self.config.domain,
            "secure": secure,
            "httponly": self.config.httponly,
            "samesite": self.config.samesite,
        }
        headers = MutableScopeHeaders.from_message(message)
        if scope_session is Empty:  # signed out
            if cookie_id:
                await self.delete(cookie_id, store=store)
            cleared = Cookie(value="null", expires=0, **params)
            headers.add("Set-Cookie", cleared.to_header(header=""))
            return
        if not scope_session:  # not signed in: keep no state, send no cookie
            return
        session_id = self.get_session_id(connection)
        if cookie_id and cookie_id != session_id:
            await self.delete(cookie_id, store=store)
        await self.set(session_id, self.serialize_data(scope_session, connection.scope), store)
        headers.add(
            "Set-Cookie",
            Cookie(value=session_id, max_age=self.config.max_age, **params).to_header(header=""),
        )


class UISessionConfig(ServerSideSessionConfig):
    """`ServerSideSessionConfig` whose middleware uses `UISessionBackend`."""

    secure_setting: bool | None = None

    @property
    def middleware(self) -> DefineMiddleware:
        backend = UISessionBackend(self, self.secure_setting)
        return DefineMiddleware(SessionMiddleware, backend=backend)


def session_config(secure: bool | None) -> UISessionConfig:
    config = UISessionConfig(
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        store="sessions",
        # The JSON API never uses the session: no store look-ups on its hot path.
        exclude=["^/v1/(?!imports/upload)", "^/static/", "^/health", "^/schema"],
    )
    config.secure_setting = secure
    return config


def session_store(data_dir: Path) -> FileStore:
    (data_dir / "sessions").mkdir(parents=True, exist_ok=True)
    return FileStore(data_dir / "sessions", create_directories=True)


def rotate_session(request: Request[Any, Any, Any]) -> None:
    """Store the session under a new id when the response goes out (call at sign-in)."""
    request.scope.setdefault("state", {})[_ROTATE] = True


def csrf_secret(data_dir: Path) -> str:
    """The CSRF signing secret, generated on first use and kept in the data directory."""
    path = data_dir / "csrf-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(secrets.token_hex(32))
        temporary.chmod(0o600)
        temporary.replace(path)
    return path.read_text().strip()


class UICSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, except on `/v1` requests that a forged cross-site form could not
    authenticate anyway: those with an API key header or without a session cookie."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            headers = dict(scope["headers"])
            cookie = headers.get(b"cookie", b"").decode("latin-1")
            if has_api_key_header(headers) or f"{SESSION_COOKIE}=" not in cookie:
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def csrf_middleware(data_dir: Path, secure: bool | None) -> DefineMiddleware:
    config = CSRFConfig(
        secret=csrf_secret(data_dir),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,  # pages put the token in the form; scripts read it from there
        cookie_samesite="lax",
        cookie_secure=bool(secure),
        exclude=["^/static/", "^/health", "^/schema"],
    )
    return DefineMiddleware(UICSRFMiddleware, config=config)


class LoginThrottle:
    """At most `limit` failed sign-ins per (email, client address) in `window_s`; then 429 with
    Retry-After until the oldest failure leaves the window. A success clears the count.

    In memory, per API process: a restart forgets failures, and N API processes allow N times
    the limit. Argon2's cost (~50 ms a guess) bounds the rate further.
    """

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock  # seconds, monotonic
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, email: str, client: str) -> int | None:
        """Seconds to wait before another attempt is allowed, or None if it is allowed now."""
        now = self.clock()
        with self._lock:
            failures = self._recent((email, client), now)
            if len(failures) < self.limit:
                return None
            return max(1, int(failures[0] + self.window_s - now + 0.999))

    def failed(self, email: str, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._recent((email, client), now).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of emails
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, email: str, client: str) -> None:
        with self._lock:
            self._failures.pop((email, client), None)


@dataclass(frozen=True)
class SessionUser:
    id: str
    org_id: str
    email: str


def sign_in(request: Request[Any, Any, Any], user: UserRecord) -> None:
    rotate_session(request)
    request.set_session({"userId": user.id})


def session_user(request: Request[Any, Any, Any], store: ControlStore) -> SessionUser | None:
    """The signed-in user, or None (no session, or the user no longer exists)."""
    session = request.scope.get("session")
    user_id = session.get("userId") if isinstance(session, dict) else None
    if not isinstance(user_id, str):
        return None
    user = store.users.get_user(user_id)
    if user is None:
        return None
    return SessionUser(id=user.id, org_id=user.org_id, email=user.email)
