"""Contacts UI helpers for tests: create a user with the CLI, sign in over HTTP."""

from __future__ import annotations

import re
import secrets
import time

import httpx

from tests.stack import Stack

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def new_user(stack: Stack, org: str | None = None) -> tuple[str, str]:
    """(email, org) of a fresh user made by `oliai users create --password-stdin`; the
    organization is created if new (`--create-org`)."""
    org = org or "ui-" + secrets.token_hex(4)
    email = f"{secrets.token_hex(4)}@{org}.example"
    result = stack.oliai(
        "users", "create", "--org", org, "--email", email, "--password-stdin", "--create-org",
        input_text=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return email, org


def csrf_token(client: httpx.Client, path: str = "/ui/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _TOKEN.search(page.text)
    assert match, page.text
    return match[1]


def signed_in(stack: Stack, email: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A cookie-holding client signed in as `email`, and its CSRF token."""
    client = httpx.Client(base_url=stack.api_url, timeout=60.0)
    token = csrf_token(client)
    response = client.post(
        "/ui/login", data={"email": email, "password": password, "_csrf_token": token}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/ui/imports"
    return client, token


def page_when(client: httpx.Client, path: str, ready: str, timeout_s: float = 120.0) -> str:
    """The page at `path` once it shows `ready` (a live page's state), polling every 0.5 s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = client.get(path).text
        if ready in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"{path} never showed {ready!r}:\n{text}")
