"""Read-only SQL on the lake: `oliai sql`, the committed counts the sensor needs, and the API's
reads (the contacts a dry run plans against, an import's phone counts).

A read-only connection sees one snapshot per transaction and never blocks, nor is blocked by,
the imports writing meanwhile.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import polars as pl

from core.warehouse import lake
from core.warehouse.lake import LakeLocation
from core.warehouse.revert import KeptContact, RevertBlocker, kept_contacts, revert_blocker
from core.warehouse.writer import ImportCounts, committed_counts, read_contacts
from transforms.schema import EXISTING_SCHEMA

T = TypeVar("T")


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


@dataclass(frozen=True)
class PhoneCounts:
    """An import's valid rows counted by phone type and by region; None for an import written
    before lake schema 3, which kept none."""

    types: dict[str, int] | None
    regions: dict[str, int] | None


def phone_counts(con: duckdb.DuckDBPyConnection, import_id: str) -> PhoneCounts | None:
    """The phone counts the import's committed write recorded, or None if it never committed."""
    rows = con.execute(
        "SELECT phone_types::VARCHAR, phone_regions::VARCHAR FROM imports WHERE import_id = ?",
        [import_id],
    ).fetchall()
    if not rows:
        return None
    types, regions = rows[0]
    return PhoneCounts(
        types=None if types is None else json.loads(types),
        regions=None if regions is None else json.loads(regions),
    )


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


class LakeReader:
    """The API's reads of the lake: one read-only connection per process, opened on first use
    (the extensions and the ATTACH cost ~0.1-0.4 s), and for each read a cursor of its own (its
    own transaction, so safe across threads) reading in one snapshot (~5 ms)."""

    def __init__(self, location: LakeLocation) -> None:
        self._location = location
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    def contacts(self, org_id: str, phones: pl.Series) -> pl.DataFrame:
        """The organization's rows for `phones` (as `read_contacts`); none in an empty lake."""
        empty = pl.DataFrame(schema=EXISTING_SCHEMA)
        return self.read(lambda con: read_contacts(con, org_id, phones), empty)

    def phone_counts(self, import_id: str) -> PhoneCounts | None:
        return self.read(lambda con: phone_counts(con, import_id), None)

    def revert_blocker(self, import_id: str) -> RevertBlocker | None:
        """Why the import cannot be reverted now (None: it can, or already was)."""
        blocked: RevertBlocker | None = RevertBlocker.NOT_APPLIED  # an empty lake holds none
        return self.read(lambda con: revert_blocker(con, import_id), blocked)

    def kept_contacts(
        self, import_id: str, offset: int, limit: int
    ) -> tuple[list[KeptContact], int]:
        """A page of the contacts the import's revert kept, and how many in all."""
        none: tuple[list[KeptContact], int] = ([], 0)
        return self.read(lambda con: kept_contacts(con, import_id, offset, limit), none)

    def read(self, query: Callable[[duckdb.DuckDBPyConnection], T], if_empty: T) -> T:
        """`query` on a cursor in one snapshot; `if_empty` if the lake has no tables yet.

        A read that fails drops the connection and is tried once more on a new one: the catalog's
        server may have restarted since it was opened."""
        try:
            return self._read(query, if_empty)
        except duckdb.Error:
            return self._read(query, if_empty)  # `_read` dropped the connection that failed

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _read(self, query: Callable[[duckdb.DuckDBPyConnection], T], if_empty: T) -> T:
        try:
            con = self._connection()
        except NoWarehouse:  # nothing created yet
            return if_empty
        try:
            return _in_snapshot(con, query)
        except duckdb.Error:
            self._drop(con)
            raise

    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                self._con = _connect_reader(self._location)
            return self._con

    def _drop(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if self._con is con:
                self._con = None
        con.close()


def _in_snapshot(
    con: duckdb.DuckDBPyConnection, query: Callable[[duckdb.DuckDBPyConnection], T]
) -> T:
    cursor = con.cursor()
    try:
        cursor.execute(f"USE {lake.ALIAS}")  # a cursor starts in its own in-memory database
        with lake.transaction(cursor):
            return query(cursor)
    finally:
        cursor.close()
