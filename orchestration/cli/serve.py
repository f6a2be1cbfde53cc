"""`oliai serve ROLE`: one process of the stack, as a host of a deployment runs it alone
(`oliai up` starts each of its children with the same commands)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from core.private_postgres import NoPostgres
from core.settings import Settings
from orchestration.cli.common import DataDir, load_settings

app = typer.Typer(
    help="Run one process of the stack (the code server, the Dagster webserver or daemon, an API "
    "replica) over a prepared PostgreSQL and data directory: see `oliai prepare`.",
    no_args_is_help=True,
)

Host = Annotated[
    str | None, typer.Option("--host", help="Bind address (env: OLIAI_HOST; default: 127.0.0.1).")
]
CodeServer = Annotated[
    str,
    typer.Option(
        "--code-server",
        help="The code server's address: HOST:PORT, or the path of its Unix socket.",
    ),
]


def _prepared(settings: Settings) -> dict[str, str]:
    """The environment the role runs with; exits if `oliai prepare` (or `oliai up`) has not
    written the instance, or its PostgreSQL is not reachable."""
    from orchestration.runtime.instance import instance_environment

    if not (settings.dagster_home / "dagster.yaml").exists():
        typer.echo(
            f"No Dagster instance at {settings.dagster_home}: run `oliai prepare` first "
            "(with the same --data-dir and OLIAI_POSTGRES_URL).",
            err=True,
        )
        raise typer.Exit(1)
    try:
        settings.running_postgres_url  # noqa: B018 - raises if the private server is down
    except NoPostgres:
        typer.echo(
            "No PostgreSQL: set OLIAI_POSTGRES_URL to the deployment's server "
            "(`oliai up` runs every process on a private one).",
            err=True,
        )
        raise typer.Exit(1) from None
    return {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home),
        "OLIAI_DATA_DIR": str(settings.resolved_data_dir),
        **instance_environment(settings),
    }


def _exec(command: list[str], env: dict[str, str]) -> None:
    """Become the process (no supervisor in between: signals and the PID are the server's)."""
    os.execve(command[0], command, env)  # noqa: S606 - our own binaries, no shell


@app.command("code-server")
def code_server(
    data_dir: DataDir = None,
    socket: Annotated[
        Path | None, typer.Option("--socket", help="Serve on this Unix socket instead of a port.")
    ] = None,
    host: Host = None,
    port: Annotated[int, typer.Option("--port", help="gRPC port (with --host).")] = 4000,
) -> None:
    """Serve the code location; its run workers (the imports) run on this host."""
    from orchestration.runtime.code_server import serve
    from orchestration.runtime.processes import CodeServerAddress

    settings = load_settings(data_dir, host=host)
    os.environ.update(_prepared(settings))
    if socket is not None:
        address = CodeServerAddress(socket=socket)
    else:
        address = CodeServerAddress(host=settings.host, port=port)
    serve(
        address,
        run_threads=settings.run_threads,
        idle_workers=settings.max_concurrent_runs,
    )


@app.command()
def webserver(
    code_server: CodeServer,
    data_dir: DataDir = None,
    host: Host = None,
    port: Annotated[
        int | None, typer.Option("--port", help="UI port (env: OLIAI_DAGSTER_PORT; default: 3000).")
    ] = None,
) -> None:
    """The Dagster webserver: the UI, and the GraphQL the API submits imports to."""
    from orchestration.runtime.processes import (
        CodeServerAddress,
        webserver_command,
        write_workspace,
    )

    settings = load_settings(data_dir, host=host, dagster_port=port)
    env = _prepared(settings)
    workspace = write_workspace(
        settings.dagster_home, "webserver", CodeServerAddress.parse(code_server)
    )
    _exec(webserver_command(workspace, settings.host, settings.dagster_port), env)


@app.command()
def daemon(code_server: CodeServer, data_dir: DataDir = None) -> None:
    """The Dagster daemon: the run queue, run monitoring, the webhook sensor. Run one."""
    from orchestration.runtime.daemon import run_daemon
    from orchestration.runtime.processes import CodeServerAddress, write_workspace

    settings = load_settings(data_dir)
    os.environ.update(_prepared(settings))
    address = CodeServerAddress.parse(code_server)
    workspace = write_workspace(settings.dagster_home, "daemon", address)
    on_postgres = settings.dagster_storage == "postgres"
    run_daemon(workspace, settings.running_postgres_url if on_postgres else None)


@app.command()
def api(
    data_dir: DataDir = None,
    host: Host = None,
    port: Annotated[
        int | None, typer.Option("--port", help="API port (env: OLIAI_API_PORT; default: 8000).")
    ] = None,
    dagster_url: Annotated[
        str | None,
        typer.Option(
            "--dagster-url", help="The webserver imports are submitted to (env: OLIAI_DAGSTER_URL)."
        ),
    ] = None,
) -> None:
    """One API replica; run as many as you like, over the same PostgreSQL and data paths."""
    from orchestration.runtime.processes import api_command

    settings = load_settings(data_dir, host=host, api_port=port, dagster_url=dagster_url)
    env = _prepared(settings)
    env["OLIAI_DAGSTER_URL"] = settings.resolved_dagster_url
    _exec(api_command(settings.host, settings.api_port), env)
