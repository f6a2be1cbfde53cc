"""Getting the lake ready at start: its tables, and a single-file warehouse of an earlier release
(`warehouse.duckdb`, schema versions 1-3) moved in once.

The move is one lake transaction: it commits whole or leaves the lake as it was, and the old
file is only renamed (to `warehouse.duckdb.migrated`) after the commit. A crash between the two
is finished at the next start: the lake records which file it took in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core.warehouse import lake
from core.warehouse.lake import LakeLocation
from core.warehouse.writer import TABLES, backfill_phone_facts, open_warehouse

# The tables an old file holds; every version's columns are a subset of today's, a missing one
# (a value written before sequences existed) is null, as the old migrations made it.
MOVED_TABLES = ("contacts", "audience_members", "imports", "import_errors")


class MigrationRefused(Exception):
    pass


def migrated_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.migrated")


def prepare_warehouse(location: LakeLocation, legacy_file: Path) -> str | None:
    """Create the lake's tables if needed and move `legacy_file` in if it exists; returns what
    was moved, for the user, or None."""
    with open_warehouse(location) as con:
        if not legacy_file.exists():
            return None
        source = str(legacy_file)
        if _moved_before(con, source):
            legacy_file.rename(migrated_name(legacy_file))
            return None
        counts = _move(con, legacy_file, source)
    legacy_file.rename(migrated_name(legacy_file))
    moved = ", ".join(f"{count} {table}" for table, count in counts.items())
    return (
        f"Moved the single-file warehouse {legacy_file} into the lake ({moved}); the old file "
        f"is kept as {migrated_name(legacy_file)}."
    )


def _moved_before(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    rows = con.execute("SELECT count(*) FROM legacy_migrations WHERE source = ?", [source])
    return rows.fetchall() != [(0,)]


def _move(con: duckdb.DuckDBPyConnection, legacy_file: Path, source: str) -> dict[str, int]:
    if con.execute("SELECT count(*) FROM imports").fetchall() != [(0,)]:
        raise MigrationRefused(
            f"{legacy_file} is a single-file warehouse of an earlier release, but the lake "
            "already holds imports: moving it in would mix two histories. Move the file away "
            "(or start with a fresh data directory) and start again."
        )
    quoted = source.replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS legacy (READ_ONLY)")
    try:
        with lake.transaction(con):
            counts = {table: _copy_table(con, table) for table in MOVED_TABLES}
            backfill_phone_facts(con)  # an old file's contacts had no phone type or region
            con.execute("INSERT INTO legacy_migrations VALUES (?, ?)", [source, datetime.now(UTC)])
    finally:
        con.execute("DETACH legacy")
    return counts


def _copy_table(con: duckdb.DuckDBPyConnection, table: str) -> int:
    assert table in TABLES
    old = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() "
            "WHERE database_name = 'legacy' AND table_name = ?",
            [table],
        ).fetchall()
    }
    new = [row[0] for row in con.execute(f"SELECT * FROM {table} LIMIT 0").description or []]
    selected = ", ".join(column if column in old else f"NULL AS {column}" for column in new)
    con.execute(f"INSERT INTO {table} SELECT {selected} FROM legacy.{table}")
    return int(con.execute(f"SELECT count(*) FROM legacy.{table}").fetchall()[0][0])
