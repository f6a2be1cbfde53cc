"""`oliai sql`: read-only SQL on the warehouse."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from core.settings import Settings
from orchestration.cli.common import AsJson, DataDir, lake_location, load_settings


def sql(
    query: Annotated[str | None, typer.Argument(help="A SQL query on the warehouse.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    print_attach: Annotated[
        bool,
        typer.Option(
            "--print-attach",
            help="Print the SQL that opens the lake read-only from a notebook or the DuckDB "
            "CLI (it holds the catalog's password), instead of running a query.",
        ),
    ] = False,
) -> None:
    """Query the warehouse read-only, on one snapshot (imports keep landing meanwhile)."""
    import duckdb

    from core.warehouse.reader import NoWarehouse, query_warehouse

    settings = load_settings(data_dir)
    if print_attach:
        _print_attach(settings)
        return
    if query is None:
        typer.echo("Give a query (or --print-attach).", err=True)
        raise typer.Exit(2)
    try:
        with lake_location(settings) as location:
            frame = query_warehouse(location, query)
    except NoWarehouse as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except duckdb.Error as exc:
        typer.echo(f"Query failed: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(frame.to_dicts(), default=str))
    else:
        import polars as pl

        with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=60):
            typer.echo(frame)


def _print_attach(settings: Settings) -> None:
    from core import private_postgres
    from core.warehouse.lake import LakeLocation, setup_statements

    try:
        url = private_postgres.resolve_url(settings.postgres_url, settings.postgres_dir)
    except private_postgres.NoPostgres as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    location = LakeLocation(url, settings.resolved_lake_data_path)
    for statement in setup_statements(location, read_only=True):
        typer.echo(f"{statement};")
