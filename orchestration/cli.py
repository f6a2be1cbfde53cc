"""`oliai`: start the stack, manage API keys and webhook secrets, query the warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestration.control_store import ControlStore
from orchestration.settings import Settings

app = typer.Typer(
    help="OliAI contacts imports: the stack, keys, webhooks and the warehouse.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="API keys (shown once; only a hash is stored).", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook signing secrets.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(webhooks_app, name="webhooks")

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

    from orchestration.warehouse_reader import WarehouseBusy, query_warehouse

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
    from orchestration.stack import run_stack

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
