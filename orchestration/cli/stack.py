"""`oliai up` runs the whole stack; `oliai prepare` readies a deployment for `oliai serve`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from orchestration.cli.common import DataDir, load_settings
from orchestration.runtime.instance import instance_environment


def up(
    data_dir: DataDir = None,
    api_port: Annotated[
        int | None,
        typer.Option("--api-port", help="API port (env: OLIAI_API_PORT; default: 8000)."),
    ] = None,
    dagster_port: Annotated[
        int | None,
        typer.Option(
            "--dagster-port", help="Dagster UI port (env: OLIAI_DAGSTER_PORT; default: 3000)."
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Bind address (env: OLIAI_HOST; default: 127.0.0.1)."),
    ] = None,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            "--postgres-url",
            help="An external PostgreSQL for the lake's catalog, postgresql://user:pass@host/db "
            "(env: OLIAI_POSTGRES_URL; default: a private server under the data dir).",
            show_default=False,
        ),
    ] = None,
    webhook_allow_private: Annotated[
        bool | None,
        typer.Option(
            help="Deliver webhooks to loopback/private addresses: on by default for this local "
            "stack (env: OLIAI_WEBHOOK_ALLOW_PRIVATE).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start Dagster (webserver + daemon) and the API; Ctrl-C stops everything."""
    from orchestration.runtime.stack import run_stack

    settings = load_settings(
        data_dir,
        api_port=api_port,
        dagster_port=dagster_port,
        host=host,
        postgres_url=postgres_url,
        webhook_allow_private=webhook_allow_private,
    )
    if "webhook_allow_private" not in settings.model_fields_set:
        # Neither flag nor environment chose: the local stack talks to local receivers.
        settings = settings.model_copy(update={"webhook_allow_private": True})
    raise typer.Exit(run_stack(settings))


def prepare(
    data_dir: DataDir = None,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            "--postgres-url",
            help="The deployment's PostgreSQL, postgresql://user:pass@host/db "
            "(env: OLIAI_POSTGRES_URL).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Prepare an external PostgreSQL and the data directory for processes started alone
    (`oliai serve …`): the lake, Dagster's instance, the control store. Run it once per
    deployment and after each upgrade, before the processes start."""
    from orchestration.runtime.stack import StartFailed, prepare_deployment

    settings = load_settings(data_dir, postgres_url=postgres_url)
    if not settings.postgres_url:
        typer.echo(
            "oliai prepare is for a deployment on an external server: give --postgres-url "
            "(or OLIAI_POSTGRES_URL). `oliai up` prepares its private server by itself.",
            err=True,
        )
        raise typer.Exit(2)
    os.environ.update(instance_environment(settings))
    try:
        prepare_deployment(settings)
    except StartFailed as failure:
        typer.echo(f"Prepare failed: {failure}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Prepared {settings.resolved_data_dir} for `oliai serve`.")
