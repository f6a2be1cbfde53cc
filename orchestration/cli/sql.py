"""`oliai sql`: read-only SQL on the warehouse."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orchestration.cli.common import AsJson, DataDir, load_settings


def sql(
    query: Annotated[str, typer.Argument(help="A SQL query on the warehouse.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait while a run writes.")] = 30.0,
) -> None:
    """Query the DuckDB warehouse read-only (waits politely while an import writes)."""
    import duckdb

    from orchestration.warehouse.reader import WarehouseBusy, query_warehouse

    settings = load_settings(data_dir)
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
