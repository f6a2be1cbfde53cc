"""A pooled run worker keeps its lake connection between runs (`kept_connections`): the next
use gets the same connection, which sees every commit made meanwhile, survives its catalog
connections being dropped by the server, and is closed when a use raises or the block ends."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from core.settings import Settings
from core.warehouse.lake import LakeLocation
from core.warehouse.writer import kept_connections, open_warehouse
from tests.lake import location

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(lake_settings: Settings) -> LakeLocation:
    return location(lake_settings)


def _count(con: duckdb.DuckDBPyConnection) -> int:
    (n,) = con.execute("SELECT count(*) FROM probe").fetchone() or (None,)
    assert isinstance(n, int)
    return n


def test_the_next_use_gets_the_same_connection_and_sees_later_commits(lake: LakeLocation) -> None:
    with kept_connections():
        with open_warehouse(lake) as first:
            first.execute("CREATE TABLE probe (x INTEGER)")
        # Another writer (another worker, unpooled) commits in between.
        with open_warehouse(lake, threads=1) as other:
            assert other is not first
            other.execute("INSERT INTO probe VALUES (1), (2)")
        with open_warehouse(lake) as again:
            assert again is first
            assert _count(again) == 2
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")  # closed with the block


def test_a_use_that_raised_closes_its_connection(lake: LakeLocation) -> None:
    with kept_connections():
        with pytest.raises(duckdb.CatalogException), open_warehouse(lake) as broken:
            broken.execute("SELECT * FROM no_such_table")
        with pytest.raises(duckdb.ConnectionException):
            broken.execute("SELECT 1")
        with open_warehouse(lake) as fresh:
            assert fresh is not broken
            fresh.execute("CREATE TABLE probe (x INTEGER)")
            assert _count(fresh) == 0


def test_a_kept_connection_survives_the_server_dropping_its_catalog_connections(
    lake: LakeLocation,
) -> None:
    with kept_connections():
        with open_warehouse(lake) as con:
            con.execute("CREATE TABLE probe (x INTEGER)")
        # As a restarted or failed-over server would: every connection to the catalog is gone.
        with psycopg.connect(lake.catalog_url, autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        assert dropped, "the kept connection had none open"
        assert all(ok for (ok,) in dropped)
        with open_warehouse(lake) as again:
            assert again is con
            again.execute("INSERT INTO probe VALUES (1)")
            assert _count(again) == 1


def test_without_the_block_every_use_closes_its_connection(lake: LakeLocation) -> None:
    with open_warehouse(lake) as first:
        first.execute("CREATE TABLE probe (x INTEGER)")
    with pytest.raises(duckdb.ConnectionException):
        first.execute("SELECT 1")
    with open_warehouse(lake) as second:
        assert second is not first
        assert _count(second) == 0
