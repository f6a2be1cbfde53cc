"""`oliai webhooks`: an organization's webhook signing secret."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import AsJson, DataDir, echo_json, load_settings, open_store

app = typer.Typer(help="Webhook signing secrets.", no_args_is_help=True)


@app.command("secret")
def webhooks_secret(
    org: Annotated[str, typer.Option("--org", help="Organization id.")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Replace the secret.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show (or rotate) the organization's webhook signing secret."""
    store = open_store(load_settings(data_dir))
    secret = store.organizations.ensure(org)
    if rotate:
        secret = store.organizations.rotate_webhook_secret(org)
    if as_json:
        echo_json({"orgId": org, "webhookSecret": secret})
    else:
        typer.echo(secret)
