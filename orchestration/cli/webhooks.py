"""`oliai webhooks`: an organization's webhook signing secret."""

from __future__ import annotations

from typing import Annotated

import typer

from core.control_store.organizations import UnknownOrganization
from orchestration.cli.common import (
    AsJson,
    DataDir,
    create_with_a_key,
    echo_json,
    load_settings,
    no_such_org,
    opened_store,
    org_option,
)

app = typer.Typer(help="Webhook signing secrets.", no_args_is_help=True)


@app.command("secret")
def webhooks_secret(
    org: Annotated[str, org_option("Organization id (it must exist).")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Replace the secret.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show (or rotate) the organization's webhook signing secret.

    An unknown organization fails (exit 1) rather than being created: it is made with its first
    key or user (`--create-org`)."""
    with opened_store(load_settings(data_dir)) as store:
        organizations = store.organizations
        secret: str | None
        if rotate:
            try:
                secret = organizations.rotate_webhook_secret(org)
            except UnknownOrganization:
                secret = None
        else:
            secret = organizations.webhook_secret(org)
        if secret is None:
            no_such_org(org, create_with_a_key(org))
        if as_json:
            echo_json({"orgId": org, "webhookSecret": secret})
        else:
            typer.echo(secret)
