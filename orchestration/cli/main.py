"""`oliai`: start the stack, manage API keys and webhook secrets, query the warehouse, import
large contact files. One module per command group; this one only assembles them."""

from __future__ import annotations

import typer

from orchestration.cli import imports, keys, maintenance, serve, sql, stack, users, webhooks

app = typer.Typer(
    help="OliAI contacts imports: the stack, keys, webhooks and the warehouse.",
    no_args_is_help=True,
)
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(users.app, name="users")
app.add_typer(serve.app, name="serve")
app.command()(sql.sql)
app.command()(maintenance.prune)
app.command()(maintenance.reexecute)
app.command()(stack.up)
app.command()(stack.prepare)
app.command("import")(imports.import_file)
