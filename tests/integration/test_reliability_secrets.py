"""Only a hash of an API key is kept: no file of the data directory holds a key in plaintext,
not the control store (nor its WAL), not the logs, not Dagster's storage."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import httpx
import pytest

from core.control_store.organizations import API_KEY_PREFIX
from tests.integration.api_support import BULK, SEED_BODY, fresh_org
from tests.stack import Stack

pytestmark = pytest.mark.integration

HINT_LENGTH = len(API_KEY_PREFIX) + 4  # `oliai keys list` shows this much of a key


def _contents(path: Path) -> bytes:
    """A file's bytes, or none if it vanished since it was listed: SQLite removes a `-wal` file
    when its last connection checkpoints, and the running stack keeps writing while we read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_no_file_holds_a_plaintext_key(stack: Stack, postgres_server_dir: Path) -> None:
    key = fresh_org(stack, "secrets")
    wrong = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with stack.client(key) as client:
        assert client.post(BULK, json=SEED_BODY).status_code == 202
        assert client.get("/v1/imports").status_code == 200
    # The key as X-API-Key too (no Authorization header at all: an empty one wins over it).
    with httpx.Client(base_url=stack.api_url, headers={"X-API-Key": key}) as client:
        assert client.get("/v1/imports").status_code == 200
    with stack.client(wrong) as client:
        assert client.get("/v1/imports").status_code == 401

    # The stack's files, and those of the PostgreSQL server it is on (the session's).
    cluster = postgres_server_dir / "cluster"
    files = [
        path for root in (stack.data_dir, cluster) for path in root.rglob("*") if path.is_file()
    ]
    control_store = [path for path in files if path.is_relative_to(cluster)]
    assert control_store, "no PostgreSQL file found"
    # The store does hold the key's hash (its table's file or the WAL): this is where keys live.
    digest = hashlib.sha256(key.encode()).hexdigest().encode()
    assert any(digest in _contents(path) for path in control_store)

    for candidate in (key, wrong):
        secret_part = candidate[HINT_LENGTH:].encode()
        holding = [str(path) for path in files if secret_part in _contents(path)]
        assert holding == [], f"plaintext key found in {holding}"
