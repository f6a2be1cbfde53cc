"""The DuckDB warehouse: schema, and applying one import in one transaction.

Only runs write here, one at a time (each waits for DuckDB's file lock with backoff), and the
connection is held just for the write so analysts can read between imports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from core.contracts.status import status_from_counts
from transforms import plan_upsert

SCHEMA_VERSION = 3

# contacts and audience_members have no primary key since version 2: DuckDB checks one with an
# ART index whose upkeep was 0.4 s of each 10k import at 1M contacts (and grew with the table).
# `apply_import` keeps them unique by construction, under the file lock (see there).
TABLES = {
    "contacts": """CREATE TABLE contacts (
        org_id VARCHAR NOT NULL,
        phone_number VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        language VARCHAR,
        metadata JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        created_import_id VARCHAR NOT NULL,
        updated_import_id VARCHAR NOT NULL,
        name_seq BIGINT,
        language_seq BIGINT,
        metadata_seq JSON,
        metadata_base_seq BIGINT,
        created_seq BIGINT
    )""",
    "audience_members": """CREATE TABLE audience_members (
        org_id VARCHAR NOT NULL,
        audience_id VARCHAR NOT NULL,
        phone_number VARCHAR NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        import_id VARCHAR NOT NULL
    )""",
    "imports": """CREATE TABLE imports (
        import_id VARCHAR PRIMARY KEY,
        org_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        total INTEGER NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        audience_id VARCHAR,
        completed_at TIMESTAMPTZ NOT NULL,
        sequence BIGINT
    )""",
    "import_errors": """CREATE TABLE import_errors (
        import_id VARCHAR NOT NULL,
        org_id VARCHAR NOT NULL,
        row_index INTEGER NOT NULL,
        field VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        message VARCHAR NOT NULL,
        value VARCHAR
    )""",
}
INDEXES = ["CREATE INDEX import_errors_import ON import_errors (import_id)"]
# The tables each version redefined: an older file gets them rebuilt, rows copied.
REBUILT_IN = {2: ("contacts", "audience_members")}
# The columns each version added (null in older rows: values written before sequences existed).
ADDED_IN = {
    3: [
        "ALTER TABLE contacts ADD COLUMN name_seq BIGINT",
        "ALTER TABLE contacts ADD COLUMN language_seq BIGINT",
        "ALTER TABLE contacts ADD COLUMN metadata_seq JSON",
        "ALTER TABLE contacts ADD COLUMN metadata_base_seq BIGINT",
        "ALTER TABLE contacts ADD COLUMN created_seq BIGINT",
        "ALTER TABLE imports ADD COLUMN sequence BIGINT",
    ]
}


@dataclass(frozen=True)
class ImportCounts:
    total: int
    created: int
    updated: int
    failed: int
    error_count: int

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "failed": self.failed,
            "errorCount": self.error_count,
        }


@dataclass(frozen=True)
class ImportBatch:
    """One import's normalized output, ready to apply."""

    import_id: str
    org_id: str
    run_id: str
    audience_id: str | None
    valid: pl.DataFrame
    errors: pl.DataFrame
    total: int
    failed: int
    # The import's place in its organization's acceptance order (core.contracts).
    sequence: int = 0


def _file_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open file; 0 for a new file."""
    # fetchall, not fetchone: DuckDB 2 refuses con.sql()/register() while a result is unfinished.
    rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    if rows[0][0] is not None:
        return int(rows[0][0])
    # Version 1 wrote its row right after creating the tables: a file may have them without it.
    tables = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'contacts'"
    ).fetchall()
    return 1 if tables == [(1,)] else 0


def _rebuild(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The table as the current version defines it, with the rows (and columns) it had."""
    con.execute(f"ALTER TABLE {table} RENAME TO {table}_previous")
    con.execute(TABLES[table])
    columns = ", ".join(
        column[0] for column in con.execute(f"SELECT * FROM {table}_previous LIMIT 0").description
    )
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_previous")
    con.execute(f"DROP TABLE {table}_previous")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables in a new file, or migrate an older one, in one transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    version = _file_version(con)
    if version == SCHEMA_VERSION:
        return
    con.begin()
    try:
        if version == 0:
            for statement in [*TABLES.values(), *INDEXES]:
                con.execute(statement)
        else:
            rebuilt: set[str] = set()
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for table in REBUILT_IN.get(target, ()):
                    # A rebuild creates the newest definition, later versions' columns included.
                    _rebuild(con, table)
                    rebuilt.add(table)
                for statement in ADDED_IN.get(target, ()):
                    if statement.split()[2] not in rebuilt:
                        con.execute(statement)
        con.execute("DELETE FROM schema_version")
        con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(path: Path, *, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying while another process holds it: a run writing, or an analyst's
    `oliai sql` reading (DuckDB allows one writer or many readers, never both)."""
    retrying = Retrying(
        retry=retry_if_exception(is_lock_conflict),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        stop=stop_after_delay(wait_s),
        reraise=True,
    )
    return retrying(duckdb.connect, str(path), read_only=read_only)


@contextmanager
def open_warehouse(path: Path, wait_s: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection with the schema in place, closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path, read_only=False, wait_s=wait_s)
    try:
        ensure_schema(con)
        yield con
    finally:
        con.close()


def read_existing(con: duckdb.DuckDBPyConnection, batch: ImportBatch) -> pl.DataFrame:
    """The organization's current rows for the batch's phones: EXISTING_SCHEMA, `created_at`,
    and `contact_rowid` (valid until the transaction ends)."""
    con.register("batch_phones", batch.valid.select(pl.col("phone_number").unique()))
    try:
        # Find the rows by phone first, then read their other columns: in one join DuckDB reads
        # every column of every row (80 vs 55 ms at 1M contacts).
        return con.sql(
            """SELECT c.rowid AS contact_rowid, c.phone_number, c.name, c.language,
                      c.metadata::VARCHAR AS metadata, c.created_import_id, c.created_at,
                      c.name_seq, c.language_seq, c.metadata_seq::VARCHAR AS metadata_seq,
                      c.metadata_base_seq, c.created_seq
               FROM contacts c
               WHERE c.rowid IN (
                   SELECT found.rowid FROM contacts found JOIN batch_phones USING (phone_number)
                   WHERE found.org_id = $org_id)""",
            params={"org_id": batch.org_id},
        ).pl()
    finally:
        con.unregister("batch_phones")


def committed_counts(con: duckdb.DuckDBPyConnection, import_id: str) -> ImportCounts | None:
    """The counts the import's committed write recorded, or None if it never committed."""
    rows = con.execute(
        "SELECT total, created, updated, failed, error_count FROM imports WHERE import_id = ?",
        [import_id],
    ).fetchall()
    return ImportCounts(*rows[0]) if rows else None


# Called inside apply_import's transaction once every row is written, just before COMMIT.
BeforeCommit = Callable[[duckdb.DuckDBPyConnection], None]


def pause_at_fault_point(marker: Path) -> None:
    """A test-only fault point (`Settings.fault_pause_in_write`, `fault_pause_after_commit`): the
    first caller that finds no file at `marker` creates it, holding its PID, and blocks until it
    is killed; later callers find the file and return (so a re-execution of the killed run goes
    through)."""
    pending = marker.with_name(f"{marker.name}.{os.getpid()}")
    pending.write_text(str(os.getpid()))
    try:
        os.link(pending, marker)  # atomic and exclusive: the file appears whole, or not at all
    except FileExistsError:
        return
    finally:
        pending.unlink()
    while True:
        time.sleep(0.1)


def apply_import(
    con: duckdb.DuckDBPyConnection,
    batch: ImportBatch,
    now: datetime,
    *,
    before_commit: BeforeCommit | None = None,
) -> ImportCounts:
    """Upsert the batch's contacts, audience memberships, errors and import row atomically.

    An import whose write already committed is not applied again: its recorded counts are
    returned and nothing changes, so re-running it (after a crash past the commit, or from the
    Dagster UI) cannot put its values back over newer ones. Otherwise values merge by acceptance
    sequence (transforms.upsert), so an import applied late never overwrites a newer one.
    `before_commit` runs inside the transaction after every write: if it raises, everything is
    rolled back.
    """
    con.begin()
    try:
        recorded = committed_counts(con, batch.import_id)
        if recorded is not None:
            con.rollback()
            return recorded
        existing = read_existing(con, batch)
        plan = plan_upsert(batch.valid, existing, batch.import_id, batch.sequence)
        # Replace the batch's contacts (DELETE + INSERT) rather than INSERT ... ON CONFLICT DO
        # UPDATE: DuckDB rewrites every row group an in-place update touched at the next
        # checkpoint (~1 s per import at 1M contacts, growing with the table), while a delete
        # only marks rows. Existing contacts keep when and by which import they were created.
        # One row per (org, phone) without a primary key: `planned` has one row per phone
        # (plan_upsert groups by it), every row of those phones is deleted first, and this is
        # the only writer (DuckDB's file lock; one connection per run). plan_upsert refuses an
        # organization's rows if a phone has two, so a violation could not pass unseen.
        con.register(
            "planned",
            plan.rows.join(
                existing.select("phone_number", "created_at", "created_import_id"),
                on="phone_number",
                how="left",
            ),
        )
        con.register("replaced", existing.select("contact_rowid"))
        con.execute("DELETE FROM contacts WHERE rowid IN (SELECT contact_rowid FROM replaced)")
        con.execute(
            """INSERT INTO contacts
               SELECT $org_id, phone_number, name, language, metadata::JSON,
                      CASE WHEN creates THEN $now ELSE coalesce(created_at, $now) END, $now,
                      CASE WHEN creates THEN $import_id
                           ELSE coalesce(created_import_id, $import_id) END,
                      $import_id, name_seq, language_seq, metadata_seq::JSON, metadata_base_seq,
                      created_seq
               FROM planned""",
            {"org_id": batch.org_id, "now": now, "import_id": batch.import_id},
        )
        if batch.audience_id is not None:
            con.execute(
                """INSERT INTO audience_members
                   SELECT $org_id, $audience_id, phone_number, $now, $import_id FROM planned
                   WHERE phone_number NOT IN (
                       SELECT phone_number FROM audience_members
                       WHERE org_id = $org_id AND audience_id = $audience_id)""",
                {
                    "org_id": batch.org_id,
                    "audience_id": batch.audience_id,
                    "now": now,
                    "import_id": batch.import_id,
                },
            )
        con.execute("DELETE FROM import_errors WHERE import_id = ?", [batch.import_id])
        con.register("row_errors", batch.errors)
        con.execute(
            """INSERT INTO import_errors
               SELECT ?, ?, row_index, field, code, message, value FROM row_errors""",
            [batch.import_id, batch.org_id],
        )
        counts = ImportCounts(
            total=batch.total,
            created=plan.created,
            updated=plan.updated,
            failed=batch.failed,
            error_count=batch.errors.height,
        )
        con.execute(
            """INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                batch.import_id,
                batch.org_id,
                batch.run_id,
                status_from_counts(counts.total, counts.failed).value,
                counts.total,
                counts.created,
                counts.updated,
                counts.failed,
                counts.error_count,
                batch.audience_id,
                now,
                batch.sequence,
            ],
        )
        if before_commit is not None:
            before_commit(con)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        for view in ("planned", "replaced", "row_errors"):
            con.unregister(view)
    return counts
