"""Read-only SQL on the warehouse for analysts (`oliai sql`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from orchestration.warehouse.writer import ImportCounts, committed_counts, connect


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


def read_committed_counts(path: Path, import_id: str, *, wait_s: float) -> ImportCounts | None:
    """The counts of the import's committed write, or None if it never committed."""
    if not path.exists():
        return None
    con = connect(path, read_only=True, wait_s=wait_s)
    try:
        return committed_counts(con, import_id)
    finally:
        con.close()
