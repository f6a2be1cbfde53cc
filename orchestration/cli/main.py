"""`oliai`: start the stack, manage API keys and webhook secrets, query the warehouse, import
large contact files."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from core.control_store import ControlStore
from core.settings import MIB, Settings

app = typer.Typer(
    help="OliAI contacts imports: the stack, keys, webhooks and the warehouse.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="API keys (shown once; only a hash is stored).", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook signing secrets.", no_args_is_help=True)
users_app = typer.Typer(help="Contacts UI users (sign in at /ui).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(users_app, name="users")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Where everything lives (env: OLIAI_DATA_DIR; default: .oliai)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _settings(data_dir: Path | None, **overrides: Any) -> Settings:
    """Flags win over OLIAI_* variables, which win over defaults."""
    given = {key: value for key, value in overrides.items() if value is not None}
    if data_dir is not None:
        given["data_dir"] = data_dir
    return Settings(**given)


def _store(settings: Settings) -> ControlStore:
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    return ControlStore.from_url(settings.resolved_control_store_url)


def _require_instance(settings: Settings) -> None:
    """Exit unless the data directory has a Dagster instance: opening one would create it, so a
    mistyped --data-dir would leave a stray tree."""
    if not settings.dagster_home.is_dir():
        typer.echo(f"No Dagster instance at {settings.dagster_home}: check --data-dir.", err=True)
        raise typer.Exit(1)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=str, indent=2))


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option("--org", help="Organization id (created if new).")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Create an API key for ORG and print it once."""
    created = _store(_settings(data_dir)).create_api_key(org)
    if as_json:
        _echo_json({"keyId": created.key_id, "apiKey": created.api_key, "orgId": created.org_id})
        return
    typer.echo(f"Key {created.key_id} for organization {created.org_id}:\n\n  {created.api_key}\n")
    typer.echo("It is shown only now; store it safely.")


@keys_app.command("list")
def keys_list(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List ORG's keys (never the keys themselves)."""
    keys = _store(_settings(data_dir)).list_api_keys(org)
    if as_json:
        _echo_json(keys)
        return
    for key in keys:
        state = f"revoked {key['revokedAt']:%Y-%m-%d}" if key["revokedAt"] else "active"
        typer.echo(
            f"{key['keyId']}  {key['hint']:<14}  created {key['createdAt']:%Y-%m-%d}  {state}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key at once: its next request gets 401."""
    if not _store(_settings(data_dir)).revoke_api_key(key_id):
        typer.echo(f"No active key {key_id}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {key_id}.")


@users_app.command("create")
def users_create(
    org: Annotated[str, typer.Option("--org", help="Organization id (created if new).")],
    email: Annotated[str, typer.Option("--email", help="Sign-in email (unique).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a Contacts UI user of ORG; the password is prompted twice (or read from stdin)."""
    import sys

    from core.control_store import UserExists
    from core.passwords import hash_password, password_problem

    if "@" not in email.strip(" @"):
        typer.echo(f"{email!r} is not an email address.", err=True)
        raise typer.Exit(2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    try:
        user = _store(_settings(data_dir)).create_user(org, email, hash_password(password))
    except UserExists:
        typer.echo(f"A user {email.strip().lower()} already exists.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"User {user.id} ({user.email}) of organization {user.org_id} created.")


@webhooks_app.command("secret")
def webhooks_secret(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Replace the secret.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show (or rotate) the organization's webhook signing secret."""
    store = _store(_settings(data_dir))
    secret = store.ensure_organization(org)
    if rotate:
        secret = store.rotate_webhook_secret(org)
    if as_json:
        _echo_json({"orgId": org, "webhookSecret": secret})
    else:
        typer.echo(secret)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SQL query on the warehouse.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait while a run writes.")] = 30.0,
) -> None:
    """Query the DuckDB warehouse read-only (waits politely while an import writes)."""
    import duckdb

    from orchestration.warehouse.reader import WarehouseBusy, query_warehouse

    settings = _settings(data_dir)
    try:
        frame = query_warehouse(settings.warehouse_path, query, wait_s=wait)
    except WarehouseBusy as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except duckdb.Error as exc:
        typer.echo(f"Query failed: {exc}", err=True)
        raise typer.Exit(1) from None
    except FileNotFoundError:
        typer.echo(
            f"No warehouse yet at {settings.warehouse_path}: import something first.", err=True
        )
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(frame.to_dicts(), default=str))
    else:
        import polars as pl

        with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=60):
            typer.echo(frame)


PRUNE_LISTED = 100  # a dry run lists this many imports, then a count


@app.command()
def prune(
    older_than_days: Annotated[
        int,
        typer.Option(
            "--older-than-days",
            min=1,
            help="Prune imports whose newest run ended more than this many days ago.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete the landing bodies and staged rows of imports whose newest run ended long ago.

    Row errors, Dagster's run history and the warehouse stay. A pruned import cannot be re-executed.
    Imports never submitted, queued or running keep their files.
    """
    from datetime import UTC, datetime, timedelta

    from dagster import DagsterInstance

    from orchestration.maintenance.retention import prunable_imports, prune_imports

    settings = _settings(data_dir)
    _require_instance(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        imports = prunable_imports(
            instance,
            settings.landing_dir,
            settings.staging_dir,
            older_than=timedelta(days=older_than_days),
            now=datetime.now(UTC),
        )
    count = f"{len(imports)} import{'' if len(imports) == 1 else 's'}"
    if dry_run:
        for item in imports[:PRUNE_LISTED]:
            files = ", ".join(path.name for path in item.paths)
            typer.echo(
                f"{item.import_id}  {item.org_id or '-'}  {item.size_bytes:,} bytes  ({files})"
            )
        if len(imports) > PRUNE_LISTED:
            typer.echo(f"... and {len(imports) - PRUNE_LISTED} more")
        size = sum(item.size_bytes for item in imports)
        summary = f"Would prune {count}, freeing {size / MIB:.1f} MiB"
    else:
        freed = prune_imports(imports)
        summary = f"Pruned {count}, freed {freed / MIB:.1f} MiB"
    typer.echo(f"{summary} (landing bodies and staged rows; row errors kept).")


@app.command()
def reexecute(
    import_ids: Annotated[
        list[str] | None, typer.Argument(help="Imports to re-run (imp_…).", show_default=False)
    ] = None,
    failed: Annotated[
        bool,
        typer.Option("--failed", help="Every import whose newest run ended FAILURE or CANCELED."),
    ] = False,
    org: Annotated[
        str | None, typer.Option("--org", help="With --failed: only this organization's.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be re-executed; launch nothing.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Re-execute imports' newest runs (all steps), as the Dagster UI's Re-execute does.

    Imports without a run, with an unfinished run or whose request body was pruned are skipped.
    Reaches the Dagster webserver at OLIAI_DAGSTER_URL (default http://OLIAI_HOST:OLIAI_DAGSTER_PORT).
    Exit 1 if a launch failed or a named import could not be re-executed.
    """
    import httpx
    from dagster import DagsterInstance

    from orchestration.maintenance.reexecution import (
        ImportRun,
        LaunchFailed,
        Skip,
        failed_imports,
        launch_reexecution,
        newest_runs,
        reexecutable,
    )

    if bool(import_ids) == failed:
        raise typer.BadParameter("name import ids or pass --failed (one of the two, not both).")
    if org is not None and not failed:
        raise typer.BadParameter("--org narrows --failed; leave it out when naming imports.")
    settings = _settings(data_dir)
    _require_instance(settings)
    selected: list[tuple[str, ImportRun | None]]
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        if failed:
            selected = [(run.import_id, run) for run in failed_imports(instance, org)]
        else:
            named = list(dict.fromkeys(import_ids or []))  # once each, in the order given
            runs = newest_runs(instance, named)
            selected = [(import_id, runs.get(import_id)) for import_id in named]

    launched = skipped = launch_failures = 0
    with httpx.Client() as client:
        for import_id, newest in selected:
            run = reexecutable(newest)
            if isinstance(run, Skip):
                typer.echo(f"{import_id}  skipped: {run.reason}")
                skipped += 1
                continue
            if dry_run:
                typer.echo(f"{import_id}  {run.run_id} → would re-execute")
                launched += 1
                continue
            try:
                new_run_id = launch_reexecution(client, settings.resolved_dagster_url, run.run_id)
            except LaunchFailed as exc:
                typer.echo(f"{import_id}  {run.run_id}  launch failed: {exc}")
                launch_failures += 1
                continue
            typer.echo(f"{import_id}  {run.run_id} → {new_run_id}")
            launched += 1
    summary = f"re-executed {launched}, skipped {skipped}"
    if launch_failures:
        summary += f", launch failed {launch_failures}"
    typer.echo(f"Dry run: would have {summary}." if dry_run else f"{summary.capitalize()}.")
    # --failed expects skips (pruned imports); a named import was asked for by name.
    if launch_failures or (skipped and not failed):
        raise typer.Exit(1)


@app.command()
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

    settings = _settings(
        data_dir,
        api_port=api_port,
        dagster_port=dagster_port,
        host=host,
        webhook_allow_private=webhook_allow_private,
    )
    if "webhook_allow_private" not in settings.model_fields_set:
        # Neither flag nor environment chose: the local stack talks to local receivers.
        settings = settings.model_copy(update={"webhook_allow_private": True})
    raise typer.Exit(run_stack(settings))


@app.command("code-server")
def code_server(
    socket_path: Annotated[Path, typer.Argument(help="Unix socket to serve on.")],
) -> None:
    """Serve the Dagster code location with warm run workers (`oliai up` starts it)."""
    from orchestration.runtime.code_server import serve

    serve(socket_path)


class WaitModeChoice(StrEnum):
    poll = "poll"
    webhook = "webhook"


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="A .csv/.tsv, .ndjson/.jsonl, .json (array) or .xlsx file.")
    ],
    api_key: Annotated[
        str, typer.Option("--api-key", envvar="OLIAI_API_KEY", help="The organization's API key.")
    ],
    api_url: Annotated[
        str, typer.Option("--api-url", envvar="OLIAI_API_URL", help="The API's base URL.")
    ] = "http://127.0.0.1:8000",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Contacts per request.")
    ] = 5_000,
    audience_id: Annotated[
        str | None, typer.Option("--audience-id", help="Add every contact to this audience.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="Sent with every batch. With --wait-mode webhook: the URL at which the API "
            "reaches this command's receiver (default http://LISTEN/oliai/import-completed).",
        ),
    ] = None,
    wait_mode: Annotated[
        WaitModeChoice,
        typer.Option(
            "--wait-mode",
            help="poll: poll each batch's status with backoff. webhook: wait for the signed "
            "import.completed on a local receiver (polling every 10 s as the fallback).",
        ),
    ] = WaitModeChoice.poll,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            "--webhook-secret",
            envvar="OLIAI_WEBHOOK_SECRET",
            help="whsec_... secret that verifies webhooks (`oliai webhooks secret --org ORG`).",
        ),
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT of the webhook receiver (0: any port).")
    ] = "127.0.0.1:0",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and normalize only; create nothing.")
    ] = False,
    continue_on_error: Annotated[
        bool, typer.Option("--continue-on-error", help="Go on after a batch ends FAILED.")
    ] = False,
    batch_timeout: Annotated[
        float, typer.Option("--batch-timeout", help="Seconds to wait for one batch to finish.")
    ] = 3600.0,
    as_json: AsJson = False,
) -> None:
    """Import a large file in batches, one after another; resumable (re-run the same command).

    Exit codes: 0 done, 1 done with failed rows, 2 bad input, 3 a batch FAILED, 4 API error, 130
    interrupted (docs/batch-import.md).
    """
    from client.batch.console import import_command
    from client.batch.options import BatchImportOptions, WaitMode

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        typer.echo(f"--listen must be HOST:PORT, not {listen!r}.", err=True)
        raise typer.Exit(2)
    options = BatchImportOptions(
        path=file,
        batch_size=batch_size,
        audience_id=audience_id,
        webhook_url=webhook_url,
        wait_mode=WaitMode(wait_mode.value),
        webhook_secret=webhook_secret,
        listen_host=host,
        listen_port=int(port),
        continue_on_error=continue_on_error,
        batch_timeout_s=batch_timeout,
    )
    raise typer.Exit(
        import_command(options, api_url=api_url, api_key=api_key, dry_run=dry_run, as_json=as_json)
    )
