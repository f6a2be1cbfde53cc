"""What every `oliai` command shares: the --data-dir, --json and --org options, settings and
stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from core.contracts.org_ids import InvalidOrgId, valid_org_id
from core.control_store import ControlStore
from core.settings import Settings

if TYPE_CHECKING:
    from orchestration.warehouse.lake import LakeLocation

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


def open_store(settings: Settings) -> ControlStore:
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    return ControlStore.from_url(settings.resolved_control_store_url)


def require_instance(settings: Settings) -> None:
    """Exit unless the data directory has a Dagster instance: opening one would create it, so a
    mistyped --data-dir would leave a stray tree."""
    if not settings.dagster_home.is_dir():
        typer.echo(f"No Dagster instance at {settings.dagster_home}: check --data-dir.", err=True)
        raise typer.Exit(1)


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


@contextmanager
def lake_location(settings: Settings) -> Iterator[LakeLocation]:
    """Where the lake is; with the private server down (the stack stopped), one started for the
    command and stopped after it."""
    from core import private_postgres
    from orchestration.warehouse.lake import LakeLocation

    if settings.postgres_url:
        yield LakeLocation(settings.postgres_url, settings.resolved_lake_data_path)
        return
    with private_postgres.serving(settings.postgres_dir) as url:
        yield LakeLocation(url, settings.resolved_lake_data_path)
