"""Read-only SQL on the lake: `oliai sql`, and the committed counts the sensor needs.

A read-only connection sees one snapshot per transaction and never blocks, nor is blocked by,
the imports writing meanwhile.
"""

from __future__ import annotations

import duckdb
import polars as pl

from core.warehouse import lake
from core.warehouse.lake import LakeLocation
from core.warehouse.revert import KeptContact, RevertBlocker, kept_contacts, revert_blocker
from core.warehouse.writer import ImportCounts, committed_counts


class NoWarehouse(Exception):
    """The lake has no tables yet: nothing was imported and the stack never started."""


NO_TABLES = "The warehouse has no tables yet: start the stack or import something."


def _connect_reader(location: LakeLocation) -> duckdb.DuckDBPyConnection:
    try:
        con = lake.connect(location, read_only=True)
    except duckdb.InvalidInputException as exc:
        if "does not exist" in str(exc):  # no catalog yet: read-only cannot create one
            raise NoWarehouse(NO_TABLES) from None
        raise
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND table_name = 'imports'"
    ).fetchall()
    if found == [(0,)]:
        con.close()
        raise NoWarehouse(NO_TABLES)
    return con


def query_warehouse(location: LakeLocation, query: str) -> pl.DataFrame:
    """One query, as an analyst's: on a read-only lake, with no other file reachable (no ATTACH,
    COPY or read_csv of paths outside the lake's files) and the configuration locked."""
    con = _connect_reader(location)
    try:
        if "://" not in location.data_path:
            con.execute("SET allowed_directories = ?", [[location.data_path]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        return con.sql(query).pl()
    finally:
        con.close()


def read_committed_counts(location: LakeLocation, import_id: str) -> ImportCounts | None:
    """The counts of the import's committed write, or None if it never committed."""
    try:
        con = _connect_reader(location)
    except NoWarehouse:
        return None
    try:
        return committed_counts(con, import_id)
    finally:
        con.close()


def read_revert_blocker(location: LakeLocation, import_id: str) -> RevertBlocker | None:
    """Why the import cannot be reverted now (None: it can, or already was); the API asks before
    it accepts a revert."""
    con = _connect_reader(location)
    try:
        return revert_blocker(con, import_id)
    finally:
        con.close()


def read_kept_contacts(
    location: LakeLocation, import_id: str, offset: int, limit: int
) -> tuple[list[KeptContact], int]:
    """A page of the contacts the import's revert kept, and how many in all."""
    con = _connect_reader(location)
    try:
        return kept_contacts(con, import_id, offset, limit)
    finally:
        con.close()
