"""`oliai users`: Contacts UI users."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import DataDir, load_settings, open_store

app = typer.Typer(help="Contacts UI users (sign in at /ui).", no_args_is_help=True)


@app.command("create")
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

    from core.control_store.users import UserExists
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
        user = open_store(load_settings(data_dir)).users.create_user(
            org, email, hash_password(password)
        )
    except UserExists:
        typer.echo(f"A user {email.strip().lower()} already exists.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"User {user.id} ({user.email}) of organization {user.org_id} created.")
