"""`oliai keys`: API keys of an organization (shown once; only a hash is stored)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from core.control_store.organizations import ApiKeyRecord, UnknownOrganization
from orchestration.cli.common import (
    CREATE_ORG_HELP,
    AsJson,
    DataDir,
    create_with_a_key,
    echo_json,
    load_settings,
    no_such_org,
    opened_store,
    org_option,
)

app = typer.Typer(help="API keys (shown once; only a hash is stored).", no_args_is_help=True)


@app.command("create")
def keys_create(
    org: Annotated[str, org_option("Organization id (must exist, unless --create-org).")],
    create_org: Annotated[bool, typer.Option("--create-org", help=CREATE_ORG_HELP)] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Create an API key for ORG and print it once."""
    with opened_store(load_settings(data_dir)) as store:
        organizations = store.organizations
        try:
            created = organizations.create_api_key(org, create_org=create_org)
        except UnknownOrganization:
            no_such_org(org, create_with_a_key(org))
        if as_json:
            echo_json({"keyId": created.key_id, "apiKey": created.api_key, "orgId": created.org_id})
            return
        typer.echo(
            f"Key {created.key_id} for organization {created.org_id}:\n\n  {created.api_key}\n"
        )
        typer.echo("It is shown only now; store it safely.")


@app.command("list")
def keys_list(
    org: Annotated[str, org_option("Organization id.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List ORG's keys (never the keys themselves)."""
    with opened_store(load_settings(data_dir)) as store:
        organizations = store.organizations
        if not organizations.exists(org):
            no_such_org(org, create_with_a_key(org))
        keys = organizations.list_api_keys(org)
        if as_json:
            echo_json([_key_json(key) for key in keys])
            return
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(
                f"{key.key_id}  {_hint(key):<14}  created {key.created_at:%Y-%m-%d}  {state}"
            )


def _hint(key: ApiKeyRecord) -> str:
    return key.hint + "…"


def _key_json(key: ApiKeyRecord) -> dict[str, Any]:
    """`keys list --json`: datetimes print as `str()` does (see `echo_json`)."""
    return {
        "keyId": key.key_id,
        "orgId": key.org_id,
        "hint": _hint(key),
        "createdAt": key.created_at,
        "revokedAt": key.revoked_at,
    }


@app.command("revoke")
def keys_revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key at once: its next request gets 401."""
    with opened_store(load_settings(data_dir)) as store:
        if not store.organizations.revoke_api_key(key_id):
            typer.echo(f"No active key {key_id}.", err=True)
            raise typer.Exit(1)
        typer.echo(f"Revoked {key_id}.")
