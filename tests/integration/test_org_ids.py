"""Organization ids have one grammar (docs/operations.md), checked wherever one enters.

The `oliai` commands run as subprocesses on a fresh data directory, as an operator runs them: an
id off the grammar exits 2 naming the rule and creates nothing, not even the data directory; an
unknown organization is only created when `--create-org` asks for it. Against the running stack,
a key of an organization planted in the store before the grammar existed cannot make the API
write a landing file outside the landing directory.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from core import private_postgres
from core.contracts.org_ids import ORG_ID_PATTERN, InvalidOrgId
from core.control_store import ControlStore
from core.control_store.organizations import (
    API_KEY_PREFIX,
    UnknownOrganization,
    hash_api_key,
    new_secret,
)
from core.control_store.tables import api_keys, imports, organizations, users, utcnow
from core.settings import Settings
from tests.integration.api_support import BULK, SEED_BODY, assert_problem
from tests.stack import Stack, make_stack

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
ESCAPE = "../../escape"
# The brief's four, and the near misses: uppercase, a leading '-', a separator, a newline.
BAD_IDS = [ESCAPE, "", "A B", "a" * 64, "Demo", "-lead", "org/x", "org\n"]


@pytest.fixture
def cli(tmp_path: Path) -> Stack:
    """`oliai` on a data directory of its own (the stack is never started)."""
    return make_stack(tmp_path / "home" / "data")


def rows(data_dir: Path, table: str) -> list[tuple[Any, ...]]:
    """The table's rows in the data directory's control store (none if it has no server)."""
    settings = Settings(data_dir=data_dir)
    if not settings.postgres_dir.exists():
        return []
    with (
        private_postgres.serving(settings.postgres_dir) as url,
        psycopg.connect(url, options="-csearch_path=control") as con,
    ):
        return con.execute(f"SELECT * FROM {table}").fetchall()


def org_ids(data_dir: Path) -> list[str]:
    return [row[0] for row in rows(data_dir, "organizations")]


def users_create(cli: Stack, org: str, *flags: str) -> tuple[int, str]:
    email = f"{secrets.token_hex(4)}@example.com"
    result = cli.oliai(
        "users", "create", "--org", org, "--email", email, "--password-stdin", *flags,
        input_text=PASSWORD + "\n",
    )  # fmt: skip
    return result.returncode, result.stderr


def assert_refused(code: int, stderr: str, tmp_path: Path) -> None:
    """Exit 2 naming the grammar, and nothing made: no store (so no row), no directory, no file."""
    assert code == 2, stderr
    assert ORG_ID_PATTERN in stderr
    assert list(tmp_path.rglob("*")) == []


# --- an id off the grammar: exit 2, nothing created ----------------------------------------------


@pytest.mark.parametrize("org", BAD_IDS)
def test_keys_create_refuses_an_id_off_the_grammar(cli: Stack, tmp_path: Path, org: str) -> None:
    result = cli.oliai("keys", "create", "--org", org, "--create-org", "--json")
    assert_refused(result.returncode, result.stderr, tmp_path)
    assert result.stdout == ""


@pytest.mark.parametrize("org", [ESCAPE, "", "A B", "a" * 64])
def test_users_create_refuses_an_id_off_the_grammar(cli: Stack, tmp_path: Path, org: str) -> None:
    assert_refused(*users_create(cli, org, "--create-org"), tmp_path)


@pytest.mark.parametrize(
    "command",
    [
        ("keys", "create", "--org", ESCAPE),
        ("keys", "list", "--org", ESCAPE),
        ("webhooks", "secret", "--org", ESCAPE),
        ("webhooks", "secret", "--org", ESCAPE, "--rotate"),
        ("reexecute", "--failed", "--org", ESCAPE, "--dry-run"),
    ],
)
def test_every_org_option_checks_the_grammar(
    cli: Stack, tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = cli.oliai(*command)
    assert_refused(result.returncode, result.stderr, tmp_path)


# --- an unknown organization: exit 1 unless --create-org ------------------------------------------


def test_users_create_for_an_unknown_org_fails_and_creates_nothing(cli: Stack) -> None:
    code, stderr = users_create(cli, "typo")
    assert code == 1, stderr
    assert "--create-org" in stderr
    assert "oliai users create --org typo" in stderr
    assert org_ids(cli.data_dir) == []
    assert rows(cli.data_dir, "users") == []


def test_users_create_with_create_org_creates_both(cli: Stack) -> None:
    code, stderr = users_create(cli, "acme", "--create-org")
    assert code == 0, stderr
    assert org_ids(cli.data_dir) == ["acme"]
    # The organization exists now: a second user needs no flag.
    code, stderr = users_create(cli, "acme")
    assert code == 0, stderr
    assert [row[1] for row in rows(cli.data_dir, "users")] == ["acme", "acme"]


def test_keys_create_for_an_unknown_org_fails_and_creates_nothing(cli: Stack) -> None:
    result = cli.oliai("keys", "create", "--org", "typo")
    assert result.returncode == 1, result.stderr
    assert "oliai keys create --org typo --create-org" in result.stderr
    assert result.stdout == ""
    assert org_ids(cli.data_dir) == []
    assert rows(cli.data_dir, "api_keys") == []


def test_keys_create_with_create_org_then_without(cli: Stack) -> None:
    first = cli.oliai("keys", "create", "--org", "acme", "--create-org")
    assert first.returncode == 0, first.stderr
    second = cli.oliai("keys", "create", "--org", "acme")
    assert second.returncode == 0, second.stderr
    assert org_ids(cli.data_dir) == ["acme"]
    assert len(rows(cli.data_dir, "api_keys")) == 2


@pytest.mark.parametrize("rotate", [(), ("--rotate",)])
def test_webhooks_secret_of_an_unknown_org_fails_and_creates_nothing(
    cli: Stack, rotate: tuple[str, ...]
) -> None:
    result = cli.oliai("webhooks", "secret", "--org", "typo", *rotate)
    assert result.returncode == 1, result.stderr
    assert "--create-org" in result.stderr
    assert result.stdout == ""
    assert org_ids(cli.data_dir) == []


def test_keys_list_of_an_unknown_org_fails(cli: Stack) -> None:
    result = cli.oliai("keys", "list", "--org", "typo")
    assert result.returncode == 1, result.stderr
    assert "--create-org" in result.stderr
    assert org_ids(cli.data_dir) == []


# --- the control store: the last gate before a row ----------------------------------------------


@pytest.mark.parametrize("org", BAD_IDS)
def test_the_store_creates_no_organization_off_the_grammar(
    control_store: ControlStore, org: str
) -> None:
    with pytest.raises(InvalidOrgId):
        control_store.organizations.ensure(org)
    with pytest.raises(InvalidOrgId):
        control_store.organizations.create_api_key(org, create_org=True)
    with pytest.raises(InvalidOrgId):
        control_store.users.create_user(org, "ana@example.com", "hash", create_org=True)
    assert control_store.organizations.webhook_secret(org) is None


def test_the_store_creates_no_key_or_user_for_an_unknown_org(control_store: ControlStore) -> None:
    with pytest.raises(UnknownOrganization, match="typo"):
        control_store.organizations.create_api_key("typo")
    with pytest.raises(UnknownOrganization, match="typo"):
        control_store.users.create_user("typo", "ana@example.com", "hash")
    with pytest.raises(UnknownOrganization, match="typo"):
        control_store.organizations.rotate_webhook_secret("typo")
    assert not control_store.organizations.exists("typo")
    with control_store.engine.connect() as conn:
        for table in (organizations, api_keys, users):
            assert conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0


# --- the running API: an id planted in the store before the grammar ------------------------------


def plant_org_key(stack: Stack, org_id: str) -> str:
    """A key of `org_id` written straight into the store, as a store from before held it."""
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with stack.control_store() as store, store.engine.begin() as conn:
        conn.execute(
            organizations.insert().values(
                id=org_id, webhook_secret=new_secret(), created_at=utcnow()
            )
        )
        conn.execute(
            api_keys.insert().values(
                id="key_" + secrets.token_hex(8),
                org_id=org_id,
                key_hash=hash_api_key(api_key),
                key_hint=api_key[: len(API_KEY_PREFIX) + 4],
                created_at=utcnow(),
            )
        )
    return api_key


def test_the_hostile_key_cannot_be_made_on_the_stack(stack: Stack) -> None:
    result = stack.oliai("keys", "create", "--org", ESCAPE, "--create-org")
    assert result.returncode == 2, result.stderr
    assert ESCAPE not in org_ids(stack.data_dir)


@pytest.mark.parametrize("org_id", [f"../../escape-{secrets.token_hex(3)}", ""])
def test_a_planted_invalid_org_cannot_land_a_file_outside_its_directory(
    stack: Stack, org_id: str
) -> None:
    """`landing_path` refuses the id, so the request fails before anything is reserved or
    written: `<data>/landing/../../escape-…` would be beside the data directory, and the empty
    id would put the body in the landing root."""
    api_key = plant_org_key(stack, org_id)
    with stack.client(api_key) as client:
        response = client.post(BULK, json=SEED_BODY)
    assert_problem(response, 500, "internal-error")

    assert [path.name for path in stack.data_dir.parent.iterdir()] == [stack.data_dir.name]
    assert list((stack.data_dir / "landing").glob("*.json")) == []
    with stack.control_store() as store, store.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(imports.c.org_id == org_id)
        assert conn.scalar(query) == 0
