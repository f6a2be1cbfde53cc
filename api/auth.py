"""API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>` → the key's organization."""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Request

from api.problems import Problem
from core.control_store import ControlStore

MAX_KEY_LENGTH = 256


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization is not None:  # present, even empty: X-API-Key is then ignored
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return None
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key is not None else None


def has_api_key_header(raw_headers: Mapping[bytes, bytes]) -> bool:
    """Whether the request presents an API-key style credential (ASGI scope headers)."""
    return b"authorization" in raw_headers or b"x-api-key" in raw_headers


def unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Missing or invalid API key",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="oliai"'},
    )


def authenticate(request: Request, store: ControlStore) -> str:
    """The organization the request acts for; 401 unless the key is known and not revoked."""
    key = _presented_key(request)
    if not key:
        raise unauthorized("Send your API key as `Authorization: Bearer <key>` or `X-API-Key`.")
    if len(key) > MAX_KEY_LENGTH or not key.isascii():
        raise unauthorized("The API key is not valid.")
    org_id = store.organizations.organization_for_key(key)
    if org_id is None:
        raise unauthorized("The API key is not valid or has been revoked.")
    return org_id
