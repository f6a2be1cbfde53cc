"""A write rehearsed once on a throwaway lake, in the process run workers are forked from.

DuckDB builds much of what a write needs on first use in a process (the Parquet writer and
reader, the Arrow scan, JSON and time-zone functions, its allocator's arenas): measured in run
workers, a 2-contact import's write took ~100 ms before the rehearsal and ~50 ms after, a 10k
import's ~120 ms and ~70 ms. Rehearsed in the forkserver, that state is built once and every
forked worker inherits it.

Most of it is Arrow's: the first scan of a registered frame imports `pyarrow.dataset` and starts
Arrow's thread pools (which rebuild themselves in a forked child: Arrow checks the PID). The
rehearsal uses the lake's real tables (`ensure_schema`) and the statement shapes of a write, on a
DuckDB-file catalog in a temporary directory removed afterwards. SQL and Arrow only: the
forkserver must not start Polars' thread pool, and the database is closed again so that no
DuckDB thread is left to cross the fork.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from core.warehouse import lake
from core.warehouse.checks import table_facts
from core.warehouse.writer import TABLES, ensure_schema

ORG = "rehearsal"
# Registered as the writer registers its frames: DuckDB scans them through Arrow.
PHONES = pa.table({"phone_number": [f"+1202555{n:04d}" for n in range(100)]})
INSERT_CONTACTS = """INSERT INTO contacts
    SELECT $org, phone_number, 'Name', 'en', '{}'::JSON, now(), now(), 'imp', 'imp',
           1, 1, '{"k": 1}'::JSON, 1, 1, 'MOBILE', 'US'
    FROM rehearsed_phones"""


def rehearse_write() -> None:
    """Create, write, update and check a throwaway lake once, then close and remove it."""
    with tempfile.TemporaryDirectory(prefix="oliai-rehearsal-") as root:
        con = duckdb.connect(config=lake.ENGINE_CONFIG)
        try:
            for statement in lake.load_statements():
                con.execute(statement)
            catalog, data = Path(root) / "catalog.ducklake", Path(root) / "data"
            con.execute(f"ATTACH 'ducklake:{catalog}' AS {lake.ALIAS} (DATA_PATH '{data}')")
            con.execute(f"USE {lake.ALIAS}")
            ensure_schema(con)
            con.register("rehearsed_phones", PHONES)
            with lake.transaction(con):
                con.execute(INSERT_CONTACTS, {"org": ORG})
            # An update, as the writer makes it: find the rows, delete them, insert anew.
            with lake.transaction(con):
                con.execute(
                    """SELECT c.rowid, c.* FROM contacts c WHERE c.rowid IN (
                           SELECT f.rowid FROM contacts f JOIN rehearsed_phones USING
                           (phone_number) WHERE f.org_id = $org)""",
                    {"org": ORG},
                ).arrow()
                con.execute("DELETE FROM contacts WHERE org_id = $org", {"org": ORG})
                con.execute(INSERT_CONTACTS, {"org": ORG})
            table_facts(con, TABLES, ORG)
            con.execute(f"FROM {lake.ALIAS}.last_committed_snapshot()").fetchall()
        finally:
            con.close()
