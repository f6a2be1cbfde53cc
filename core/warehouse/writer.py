"""The warehouse on the lake: its schema, and applying one import as one snapshot.

Runs write here, one import of an organization at a time and organizations in parallel; readers
see snapshots and never wait. A commit that conflicts with another organization's is retried.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from core.contracts.import_options import ApplyOptions
from core.contracts.status import status_from_counts
from core.warehouse import lake
from core.warehouse.lake import LakeLocation
from transforms import plan_upsert
from transforms.phones import parse_phones

# Of the lake. The single-file warehouse before it had versions 1-3 (`legacy.py` moves one in).
SCHEMA_VERSION = 4

# DuckLake tables have no keys or indexes: `apply_import` keeps contacts and audience_members
# unique per organization by construction, one import of an organization at a time (the run
# queue's per-organization limit; docs/architecture.md).
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
        created_seq BIGINT,
        phone_type VARCHAR,
        phone_region VARCHAR
    )""",
    "audience_members": """CREATE TABLE audience_members (
        org_id VARCHAR NOT NULL,
        audience_id VARCHAR NOT NULL,
        phone_number VARCHAR NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        import_id VARCHAR NOT NULL
    )""",
    "imports": """CREATE TABLE imports (
        import_id VARCHAR NOT NULL,
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
        sequence BIGINT,
        skipped INTEGER DEFAULT 0,
        mode VARCHAR DEFAULT 'upsert',
        default_country VARCHAR,
        phone_types JSON,
        phone_regions JSON
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
    # One row per reverted import (core/warehouse/revert.py), and the contacts its revert left
    # alone because a later import wrote them since. IF NOT EXISTS: version 4's migration runs
    # these same statements.
    "import_reverts": """CREATE TABLE IF NOT EXISTS import_reverts (
        import_id VARCHAR NOT NULL,
        org_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        reverted_at TIMESTAMPTZ NOT NULL,
        reverted INTEGER NOT NULL,
        kept INTEGER NOT NULL,
        memberships_removed INTEGER NOT NULL
    )""",
    "import_revert_kept": """CREATE TABLE IF NOT EXISTS import_revert_kept (
        import_id VARCHAR NOT NULL,
        org_id VARCHAR NOT NULL,
        phone_number VARCHAR NOT NULL,
        later_import_id VARCHAR,
        reason VARCHAR NOT NULL
    )""",
    "schema_version": "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    # The single-file warehouses moved in (legacy.py), so a move is done once.
    "legacy_migrations": """CREATE TABLE legacy_migrations (
        source VARCHAR NOT NULL,
        migrated_at TIMESTAMPTZ NOT NULL
    )""",
}


def backfill_phone_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Give the contacts stored before version 3 their phone's type and region, as an import
    would now (phonenumbers' metadata, vectorized: ~3 s per million distinct numbers). The
    imports written before keep no counts: their rows are gone from the staging area."""
    phones = con.sql("SELECT DISTINCT phone_number FROM contacts").pl()["phone_number"]
    con.register("phone_facts", parse_phones(phones).select("key", "phone_type", "phone_region"))
    try:
        con.execute(
            """UPDATE contacts SET phone_type = f.phone_type, phone_region = f.phone_region
               FROM phone_facts f WHERE contacts.phone_number = f.key"""
        )
    finally:
        con.unregister("phone_facts")


# What brings a lake of the version before up to each version (SQL, or a step given the
# connection), in the migration's one transaction: a lake made at version 1 gets the columns of
# the import options; version 3 the phone's type and region on contacts (filled in) and their
# counts on imports. Columns go at the end, as a new lake's tables have them.
MIGRATIONS: dict[int, list[str | Callable[[duckdb.DuckDBPyConnection], None]]] = {
    2: [
        "ALTER TABLE imports ADD COLUMN skipped INTEGER DEFAULT 0",
        "ALTER TABLE imports ADD COLUMN mode VARCHAR DEFAULT 'upsert'",
        "ALTER TABLE imports ADD COLUMN default_country VARCHAR",
    ],
    3: [
        "ALTER TABLE contacts ADD COLUMN phone_type VARCHAR",
        "ALTER TABLE contacts ADD COLUMN phone_region VARCHAR",
        "ALTER TABLE imports ADD COLUMN phone_types JSON",
        "ALTER TABLE imports ADD COLUMN phone_regions JSON",
        backfill_phone_facts,
    ],
    # Reverting an import: the record of each revert and what it kept.
    4: [TABLES["import_reverts"], TABLES["import_revert_kept"]],
}
# How long a write retries commits that conflict with another organization's (DuckLake
# detects conflicts per table: two imports that both replace contacts cannot both commit).
CONFLICT_RETRY_S = 300.0


@dataclass(frozen=True)
class ImportCounts:
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "failed": self.failed,
            "errorCount": self.error_count,
            "skipped": self.skipped,
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
    options: ApplyOptions = field(default_factory=ApplyOptions)


def is_commit_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def retrying_conflicts() -> Retrying:
    """Retries a whole transaction that lost a commit race, with jittered backoff."""
    return Retrying(
        retry=retry_if_exception(is_commit_conflict),
        wait=wait_random_exponential(multiplier=0.02, max=1.0),
        stop=stop_after_delay(CONFLICT_RETRY_S),
        reraise=True,
    )


def _lake_version(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's schema version; 0 for a new lake. One query: every run asks."""
    try:
        rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    except duckdb.CatalogException:  # no such table: nothing was ever created
        return 0
    return int(rows[0][0] or 0)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lake's tables once, or bring an older lake's up to this version, in one
    transaction (a concurrent creator's commit wins and this one retries into finding them)."""
    for attempt in retrying_conflicts():
        with attempt:
            version = _lake_version(con)
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"The lake's schema is version {version}; this release knows {SCHEMA_VERSION}."
                )
            statements = (
                list(TABLES.values())
                if version == 0
                else [s for v in range(version + 1, SCHEMA_VERSION + 1) for s in MIGRATIONS[v]]
            )
            with lake.transaction(con):
                for statement in statements:
                    if isinstance(statement, str):
                        con.execute(statement)
                    else:
                        statement(con)
                con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])


# `open_warehouse`'s connections kept between uses, inside `kept_connections`.
_kept: dict[tuple[LakeLocation, int | None], duckdb.DuckDBPyConnection] | None = None


@contextmanager
def open_warehouse(
    location: LakeLocation, *, threads: int | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable connection to the lake with the schema in place, closed on exit; or, inside
    `kept_connections`, kept for the next use unless this one raised."""
    key = (location, threads)
    con = _kept.pop(key, None) if _kept is not None else None
    if con is None:
        con = lake.connect(location, threads=threads)
        try:
            ensure_schema(con)
        except BaseException:
            con.close()
            raise
    try:
        yield con
    except BaseException:
        con.close()
        raise
    if _kept is None:
        con.close()
    else:
        _kept[key] = con


@contextmanager
def kept_connections() -> Iterator[None]:
    """Within the block, `open_warehouse` keeps its connections open between uses: for a pooled
    run worker, which executes one run after another (opening the lake costs a run ~35 ms of
    CPU: a new DuckDB, the ATTACH, the catalog's first reads, the schema version). A connection
    whose use raised is closed, not kept; a kept one sees every later commit, as each
    transaction starts from the catalog's latest snapshot. Closed when the block ends."""
    global _kept
    _kept = {}
    try:
        yield
    finally:
        kept, _kept = _kept, None
        for con in kept.values():
            con.close()


def read_existing(con: duckdb.DuckDBPyConnection, batch: ImportBatch) -> pl.DataFrame:
    """The organization's current rows for the batch's phones: EXISTING_SCHEMA, `created_at`,
    and `contact_rowid` (valid until the transaction ends)."""
    return read_contacts(con, batch.org_id, batch.valid["phone_number"])


def read_contacts(con: duckdb.DuckDBPyConnection, org_id: str, phones: pl.Series) -> pl.DataFrame:
    """`read_existing` for any phones: the import's write and the API's dry run read alike."""
    con.register("batch_phones", pl.DataFrame({"phone_number": phones.unique()}))
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
            params={"org_id": org_id},
        ).pl()
    finally:
        con.unregister("batch_phones")


def committed_counts(con: duckdb.DuckDBPyConnection, import_id: str) -> ImportCounts | None:
    """The counts the import's committed write recorded, or None if it never committed."""
    rows = con.execute(
        "SELECT total, created, updated, failed, error_count, coalesce(skipped, 0) FROM imports "
        "WHERE import_id = ?",
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


@dataclass(frozen=True)
class AppliedImport:
    counts: ImportCounts
    # The lake snapshot the import's write committed (None if it committed long ago and that
    # snapshot has since expired).
    snapshot_id: int | None


def import_snapshot(con: duckdb.DuckDBPyConnection, import_id: str) -> int | None:
    """The snapshot an import's write committed: its commit message is the import id."""
    rows = con.execute(
        f"SELECT max(snapshot_id) FROM {lake.ALIAS}.snapshots() WHERE commit_message = ?",
        [import_id],
    ).fetchall()
    return None if rows[0][0] is None else int(rows[0][0])


def apply_import(
    con: duckdb.DuckDBPyConnection,
    batch: ImportBatch,
    now: datetime,
    *,
    before_commit: BeforeCommit | None = None,
) -> AppliedImport:
    """Upsert the batch's contacts, audience memberships, errors and import row atomically: one
    lake snapshot, whose author is the organization and whose commit message is the import id.

    An import whose write already committed is not applied again: its recorded counts are
    returned and nothing changes, so re-running it (after a crash past the commit, or from the
    Dagster UI) cannot put its values back over newer ones. Otherwise values merge by acceptance
    sequence (transforms.upsert), so an import applied late never overwrites a newer one.
    A commit that conflicts with another organization's is retried from the start.
    `before_commit` runs inside the transaction after every write: if it raises, everything is
    rolled back.
    """
    for attempt in retrying_conflicts():
        with attempt:
            counts, committed_before = _apply_once(con, batch, now, before_commit)
    if committed_before:
        return AppliedImport(counts, import_snapshot(con, batch.import_id))
    rows = con.execute(f"FROM {lake.ALIAS}.last_committed_snapshot()").fetchall()
    return AppliedImport(counts, int(rows[0][0]))


def _tally(valid: pl.DataFrame, column: str) -> str:
    """How many of the import's valid rows have each value of `column`, as a JSON object: kept
    with the import, so its summary outlives the staging files `oliai prune` deletes."""
    counts = valid[column].drop_nulls().value_counts().sort(column)
    return json.dumps(dict(counts.iter_rows()), separators=(",", ":"))


def _apply_once(
    con: duckdb.DuckDBPyConnection,
    batch: ImportBatch,
    now: datetime,
    before_commit: BeforeCommit | None,
) -> tuple[ImportCounts, bool]:
    """One attempt: the import's counts, and whether it had committed before (then they are the
    recorded ones and nothing was written)."""
    try:
        with lake.transaction(con):
            return _write(con, batch, now, before_commit)
    finally:
        for view in ("planned", "replaced", "row_errors"):
            con.unregister(view)


def _write(
    con: duckdb.DuckDBPyConnection,
    batch: ImportBatch,
    now: datetime,
    before_commit: BeforeCommit | None,
) -> tuple[ImportCounts, bool]:
    recorded = committed_counts(con, batch.import_id)
    if recorded is not None:
        return recorded, True  # the transaction only read: committing it writes no snapshot
    existing = read_existing(con, batch)
    plan = plan_upsert(
        batch.valid,
        existing,
        batch.import_id,
        batch.sequence,
        may_create=batch.options.mode.creates,
        may_update=batch.options.mode.updates,
    )
    # Replace the batch's contacts (DELETE + INSERT; a lake UPDATE is the same, a delete file
    # plus new rows). Existing contacts keep when and by which import they were created.
    # One row per (org, phone) without a primary key: `planned` has one row per phone
    # (plan_upsert groups by it), every row of those phones is deleted first, and this is
    # the organization's only writer (the run queue's limit; a duplicate run of the same
    # import conflicts at commit and then finds it committed). plan_upsert refuses an
    # organization's rows if a phone has two, so a violation could not pass unseen.
    con.register(
        "planned",
        plan.rows.join(
            existing.select("phone_number", "created_at", "created_import_id"),
            on="phone_number",
            how="left",
        ),
    )
    # Contacts of phones the mode skipped are not in the plan: they stay as they are.
    replaced = existing.join(plan.rows.select("phone_number"), on="phone_number", how="semi")
    # Statements with nothing to do are skipped: each reference to a lake table costs its
    # catalog reads on PostgreSQL (~5-10 ms), whatever the rows.
    if replaced.height:
        con.register("replaced", replaced.select("contact_rowid"))
        con.execute("DELETE FROM contacts WHERE rowid IN (SELECT contact_rowid FROM replaced)")
    con.execute(
        """INSERT INTO contacts
           SELECT $org_id, phone_number, name, language, metadata::JSON,
                  CASE WHEN creates THEN $now ELSE coalesce(created_at, $now) END, $now,
                  CASE WHEN creates THEN $import_id
                       ELSE coalesce(created_import_id, $import_id) END,
                  $import_id, name_seq, language_seq, metadata_seq::JSON, metadata_base_seq,
                  created_seq, phone_type, phone_region
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
    # No row of this import's can be there: it commits its errors with its `imports` row, and
    # one found committed returned above.
    if batch.errors.height:
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
        skipped=plan.skipped,
    )
    con.execute(
        """INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
            counts.skipped,
            batch.options.mode.value,
            batch.options.default_country,
            _tally(batch.valid, "phone_type"),
            _tally(batch.valid, "phone_region"),
        ],
    )
    con.execute(f"CALL {lake.ALIAS}.set_commit_message(?, ?)", [batch.org_id, batch.import_id])
    if before_commit is not None:
        before_commit(con)
    return counts, False
