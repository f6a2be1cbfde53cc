"""A data directory moved (a renamed project folder, a restored copy) keeps its lake.

The lake's catalog records the absolute path of its data files, and DuckLake refuses any other.
When the default path (under the data directory) holds the files and the recorded one no longer
exists, the data directory was moved with its files: the catalog is pointed at the new place.
Paths set explicitly (`OLIAI_LAKE_DATA_PATH`) are never rewritten: a mismatch there is a
misconfiguration, and writing files elsewhere would hide them from every other host.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from core.warehouse.lake import METADATA_SCHEMA, LakeLocation


def follow_moved_data_dir(location: LakeLocation) -> str | None:
    """Point the catalog at `location.data_path` if the data directory moved; what was done,
    for the user, or None."""
    table = sql.Identifier(METADATA_SCHEMA, "ducklake_metadata")
    with psycopg.connect(location.catalog_url, autocommit=True) as con:
        exists = con.execute(
            "SELECT to_regclass(%s) IS NOT NULL", [f"{METADATA_SCHEMA}.ducklake_metadata"]
        ).fetchone()
        if not exists or not exists[0]:
            return None  # a new lake: nothing recorded yet
        row = con.execute(
            sql.SQL("SELECT value FROM {} WHERE key = 'data_path'").format(table)
        ).fetchone()
        if row is None:
            return None
        recorded = str(row[0])
        if Path(recorded) == Path(location.data_path) or Path(recorded).exists():
            return None
        if not Path(location.data_path).is_dir():
            return None  # the files are not here either: let DuckLake say what it expects
        con.execute(
            sql.SQL("UPDATE {} SET value = %s WHERE key = 'data_path'").format(table),
            [location.data_path],
        )
    return f"The data directory moved: the lake's files are now read from {location.data_path}."
