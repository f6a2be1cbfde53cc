from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from core.control_store import ControlStore
from core.settings import Settings
from orchestration.runtime.instance import instance_environment
from tests.lake import fresh_database, postgres_server
from tests.stack import Stack, running_stack

# The `browser` fixture (Debian's Chromium) of the browser tests.
pytest_plugins = ["tests.browser"]

# No per-example deadline: on a busy 2-core machine one slow example is load, not a bug.
# HYPOTHESIS_PROFILE picks another registered profile (e.g. Hypothesis' own "default").
settings.register_profile("oliai", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "oliai"))


@pytest.fixture(scope="session")
def postgres_server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("postgres") / "postgres"


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_server_dir: Path) -> Iterator[str]:
    """One PostgreSQL server for the session: the in-process tests' databases, and the shared
    stack's as a deployment's external server."""
    with postgres_server(postgres_server_dir) as url:
        yield url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str) -> Iterator[Stack]:
    """One stack for the session, started exactly as `oliai up` starts it, on a database of the
    session's server given as `OLIAI_POSTGRES_URL` (as a scaled deployment runs). The stacks of
    the journey, the crash tests and the others start their own private server, the default."""
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    with running_stack(data_dir, OLIAI_POSTGRES_URL=fresh_database(postgres_admin_url)) as running:
        yield running


@pytest.fixture
def lake_settings(
    tmp_path: Path, postgres_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings with their own data directory and their own database (the lake's catalog, the
    control store, Dagster's instance), on the session's server as an external one."""
    settings = Settings(data_dir=tmp_path / "data", postgres_url=fresh_database(postgres_admin_url))
    # What `oliai up` gives its children: the instance's dagster.yaml names the variable.
    for name, value in instance_environment(settings).items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture
def control_store(postgres_admin_url: str) -> Iterator[ControlStore]:
    """A control store of its own, in a fresh database of the session's server."""
    store = ControlStore.from_url(fresh_database(postgres_admin_url))
    yield store
    store.dispose()
