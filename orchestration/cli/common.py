"""What every `oliai` command shares: the --data-dir, --json and --org options, settings and
stores."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from core import private_postgres
from core.contracts.org_ids import InvalidOrgId, valid_org_id
from core.control_store import ControlStore
from core.control_store.legacy import LegacyStoreConflict, adopt_legacy_store
from core.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from core.warehouse.lake import LakeLocation

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where everything lives (env: OLIAI_DATA_DIR; default: .oliai)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CREATE_ORG_HELP = "Create the organization if it does not exist (without it, an unknown one fails)."


def _checked_org(org: str | None) -> str | None:
    """An --org off the grammar exits 2 naming the rule, while the command line is parsed: before
    any prompt, and before a store or a data directory is opened (so nothing is created)."""
    if org is None:
        return None
    try:
        return valid_org_id(org)
    except InvalidOrgId as error:
        typer.echo(f"Invalid value for '--org': {error}", err=True)
        raise typer.Exit(2) from None


def org_option(help_text: str) -> Any:
    """The --org option of every command: each checks the grammar of `core.contracts.org_ids`."""
    return typer.Option("--org", help=help_text, callback=_checked_org)


def no_such_org(org: str, create_with: str) -> NoReturn:
    """Exit 1 for an organization that does not exist, naming the command that creates it."""
    typer.echo(f"No organization {org!r} exists. Create it with: {create_with}", err=True)
    raise typer.Exit(1)


def create_with_a_key(org: str) -> str:
    return f"oliai keys create --org {org} --create-org"


def load_settings(data_dir: Path | None, **overrides: Any) -> Settings:
    """Flags win over OLIAI_* variables, which win over defaults."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        given["data_dir"] = data_dir
    return Settings(**given)


@contextmanager
def postgres_url(settings: Settings) -> Iterator[str]:
    """The stack's PostgreSQL: the external server, the running private one, or (the stack
    stopped) the private one started for the command and stopped after it."""
    if settings.postgres_url:
        yield settings.postgres_url
        return
    with private_postgres.serving(settings.postgres_dir) as url:
        yield url


@contextmanager
def opened_store(settings: Settings) -> Iterator[ControlStore]:
    """The control store, with one of an earlier release (a SQLite file) moved in first."""
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    with postgres_url(settings) as url:
        store = ControlStore.from_url(url)
        try:
            try:
                moved = adopt_legacy_store(settings.legacy_control_store_path, store)
            except LegacyStoreConflict as conflict:
                typer.echo(str(conflict), err=True)
                raise typer.Exit(1) from None
            if moved:
                typer.echo(moved, err=True)
            yield store
        finally:
            store.dispose()


@contextmanager
def opened_instance(settings: Settings) -> Iterator[DagsterInstance]:
    """The data directory's Dagster instance; exits if it has none: opening one would create
    it, so a mistyped --data-dir would leave a stray tree."""
    from dagster import DagsterInstance

    from orchestration.runtime.instance import (
        InstanceDatabase,
        instance_environment,
        names_an_external_server,
        write_instance_config,
    )

    if not settings.dagster_home.is_dir():
        typer.echo(f"No Dagster instance at {settings.dagster_home}: check --data-dir.", err=True)
        raise typer.Exit(1)
    if not settings.postgres_url and names_an_external_server(settings.dagster_home):
        typer.echo(
            f"{settings.dagster_home / 'dagster.yaml'} is on an external PostgreSQL server: "
            "set OLIAI_POSTGRES_URL (or --postgres-url where a command has it) to that server.",
            err=True,
        )
        raise typer.Exit(1)
    with postgres_url(settings) as url:
        # The private server may have been started for this command, on a port of its own.
        write_instance_config(
            settings.dagster_home,
            InstanceDatabase.of(settings, url),
            settings.max_concurrent_runs,
        )
        os.environ.update(instance_environment(settings))
        with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            yield instance


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


@contextmanager
def lake_location(settings: Settings) -> Iterator[LakeLocation]:
    """Where the lake is (see `postgres_url`)."""
    from core.warehouse.lake import LakeLocation

    with postgres_url(settings) as url:
        yield LakeLocation(url, settings.resolved_lake_data_path)
