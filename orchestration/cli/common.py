"""What every `oliai` command shares: the --data-dir and --json options, settings and stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from core.control_store import ControlStore
from core.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where everything lives (env: OLIAI_DATA_DIR; default: .oliai)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
