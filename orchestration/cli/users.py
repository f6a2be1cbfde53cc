"""`oliai users`: Contacts UI users."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    CREATE_ORG_HELP,
    DataDir,
    load_settings,
    no_such_org,
    opened_store,
    org_option,
)

app = typer.Typer(help="Contacts UI users (sign in at /ui).", no_args_is_help=True)


@app.command("create")
def users_create(
    org: Annotated[str, org_option("Organization id (must exist, unless --create-org).")],
    email: Annotated[str, typer.Option("--email", help="Sign-in email (unique).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
    create_org: Annotated[bool, typer.Option("--create-org", help=CREATE_ORG_HELP)] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a Contacts UI user of ORG; the password is prompted twice (or read from stdin)."""
    import sys

    from core.control_store.organizations import UnknownOrganization
    from core.control_store.users import UserExists
    from core.passwords import hash_password, password_problem

    if "@" not in email.strip(" @"):
        typer.echo(f"{email!r} is not an email address.", err=True)
        raise typer.Exit(2)
    with opened_store(load_settings(data_dir)) as store:
        create_with = f"oliai users create --org {org} --email {email.strip()} --create-org"
        if not create_org and not store.organizations.exists(org):
            no_such_org(org, create_with)  # before the password is asked for
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        problem = password_problem(password)
        if problem:
            typer.echo(problem, err=True)
            raise typer.Exit(2)
        try:
            user = store.users.create_user(
                org, email, hash_password(password), create_org=create_org
            )
        except UnknownOrganization:
            no_such_org(org, create_with)
        except UserExists:
            typer.echo(f"A user {email.strip().lower()} already exists.", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"User {user.id} ({user.email}) of organization {user.org_id} created.")
