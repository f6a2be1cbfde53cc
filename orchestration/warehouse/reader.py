"""Read-only SQL on the warehouse for analysts (`oliai sql`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from orchestration.warehouse.writer import connect


class WarehouseBusy(Exception):
    pass


def query_warehouse(path: Path, query: str, *, wait_s: float) -> pl.DataFrame:
    """Run one query on a read-only connection held only for that query, so runs can write
    right after. Raises WarehouseBusy if an import kept the file locked for `wait_s`."""
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        con = connect(path, read_only=True, wait_s=wait_s)
    except duckdb.IOException as exc:
        raise WarehouseBusy(
            f"The warehouse is busy (an import is writing) and stayed locked for {wait_s:.0f} s; "
            "retry in a moment."
        ) from exc
    try:
        return con.sql(query).pl()
    finally:
        con.close()
