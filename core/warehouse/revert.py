"""Reverting an import: its contacts and audience memberships put back as they were before it,
from the lake's snapshots, as ONE snapshot whose commit message is `revert:<import id>`.

A contact the import wrote is put back (to its row in the snapshot before the import's, or
deleted if the import created it) only while the import is still the last to have written it;
a contact a later import wrote since is kept and listed with the reason. Memberships the import
added go, except those of kept contacts. The revert records itself (`import_reverts`,
`import_revert_kept`) and marks the import's row REVERTED in the same snapshot, so a second
revert, or a re-executed revert run, finds the record and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import duckdb
import polars as pl

from core.warehouse import lake
from core.warehouse.writer import committed_counts, import_snapshot, retrying_conflicts

COMMIT_PREFIX = "revert:"
REVERTED_STATUS = "REVERTED"


class KeptReason(StrEnum):
    """Why a contact the import wrote was left as it is."""

    # A later import wrote the contact after this one: its values stand.
    UPDATED_BY_LATER_IMPORT = "updated_by_later_import"
    # The contact is gone since (a later revert removed it): nothing to put back over.
    DELETED_SINCE = "deleted_since"


class RevertBlocker(StrEnum):
    """Why an import cannot be reverted at all."""

    NOT_APPLIED = "not_applied"  # its write never committed: there is nothing to revert
    SNAPSHOT_EXPIRED = "snapshot_expired"  # maintenance expired its snapshot or the one before


class RevertImpossible(Exception):
    def __init__(self, import_id: str, blocker: RevertBlocker) -> None:
        super().__init__(f"{import_id} cannot be reverted: {blocker.value}")
        self.blocker = blocker


@dataclass(frozen=True)
class RevertResult:
    reverted: int  # contacts put back (restored to their earlier row, or deleted if created)
    kept: int  # contacts left alone (`import_revert_kept` says why)
    memberships_removed: int
    reverted_at: datetime
    run_id: str

    def as_dict(self) -> dict[str, int]:
        return {
            "reverted": self.reverted,
            "kept": self.kept,
            "membershipsRemoved": self.memberships_removed,
        }


@dataclass(frozen=True)
class KeptContact:
    phone_number: str
    later_import_id: str | None
    reason: KeptReason


def recorded_revert(con: duckdb.DuckDBPyConnection, import_id: str) -> RevertResult | None:
    """The import's committed revert, or None if it was never reverted."""
    rows = con.execute(
        "SELECT reverted, kept, memberships_removed, reverted_at, run_id FROM import_reverts "
        "WHERE import_id = ?",
        [import_id],
    ).fetchall()
    return RevertResult(*rows[0]) if rows else None


def revert_blocker(con: duckdb.DuckDBPyConnection, import_id: str) -> RevertBlocker | None:
    """Why the import cannot be reverted now, or None if it can (or already was)."""
    if recorded_revert(con, import_id) is not None:
        return None
    return _snapshots(con, import_id)[1]


def _snapshots(
    con: duckdb.DuckDBPyConnection, import_id: str
) -> tuple[tuple[int, int] | None, RevertBlocker | None]:
    """(the import's snapshot, the one before it), or why they cannot be had."""
    if committed_counts(con, import_id) is None:
        return None, RevertBlocker.NOT_APPLIED
    snapshot = import_snapshot(con, import_id)
    if snapshot is None:
        return None, RevertBlocker.SNAPSHOT_EXPIRED
    rows = con.execute(
        f"SELECT max(snapshot_id) FROM {lake.ALIAS}.snapshots() WHERE snapshot_id < ?",
        [snapshot],
    ).fetchall()
    if rows[0][0] is None:
        return None, RevertBlocker.SNAPSHOT_EXPIRED
    return (snapshot, int(rows[0][0])), None


def kept_contacts(
    con: duckdb.DuckDBPyConnection, import_id: str, offset: int, limit: int
) -> tuple[list[KeptContact], int]:
    """A page of the contacts the import's revert kept, by phone number, and how many in all."""
    total = con.execute(
        "SELECT count(*) FROM import_revert_kept WHERE import_id = ?", [import_id]
    ).fetchall()[0][0]
    rows = con.execute(
        "SELECT phone_number, later_import_id, reason FROM import_revert_kept "
        "WHERE import_id = ? ORDER BY phone_number LIMIT ? OFFSET ?",
        [import_id, limit, offset],
    ).fetchall()
    return [KeptContact(phone, later, KeptReason(reason)) for phone, later, reason in rows], int(
        total
    )


def revert_import(
    con: duckdb.DuckDBPyConnection, import_id: str, org_id: str, run_id: str, now: datetime
) -> RevertResult:
    """Revert the import as one snapshot; if it was reverted before, return that revert's
    result and write nothing. Raises RevertImpossible if its snapshots are not (or no longer)
    there. A commit that conflicts with another organization's is retried from the start."""
    for attempt in retrying_conflicts():
        with attempt:
            try:
                with lake.transaction(con):
                    result = _revert(con, import_id, org_id, run_id, now)
            finally:
                for view in ("reverted_rows", "kept_rows"):
                    con.unregister(view)
    return result


def _revert(
    con: duckdb.DuckDBPyConnection, import_id: str, org_id: str, run_id: str, now: datetime
) -> RevertResult:
    recorded = recorded_revert(con, import_id)
    if recorded is not None:
        return recorded  # the transaction only read: committing it writes no snapshot
    snapshots, blocker = _snapshots(con, import_id)
    if snapshots is None:
        assert blocker is not None
        raise RevertImpossible(import_id, blocker)
    snapshot, before = snapshots
    # What the import wrote, next to what is there now (row ids are valid in this transaction).
    written = con.execute(
        """SELECT w.phone_number, c.updated_import_id AS current_import_id,
                   c.rowid AS contact_rowid
            FROM contacts AS w AT (VERSION => $snapshot)
            LEFT JOIN contacts c ON c.org_id = w.org_id AND c.phone_number = w.phone_number
            WHERE w.org_id = $org_id AND w.updated_import_id = $import_id""",
        {"org_id": org_id, "import_id": import_id, "snapshot": snapshot},
    ).pl()
    reverted = written.filter(pl.col("current_import_id") == import_id)
    con.register("reverted_rows", reverted)
    con.register(
        "kept_rows",
        written.join(reverted, on="phone_number", how="anti").select(
            "phone_number",
            pl.col("current_import_id").alias("later_import_id"),
            pl.when(pl.col("current_import_id").is_null())
            .then(pl.lit(KeptReason.DELETED_SINCE.value))
            .otherwise(pl.lit(KeptReason.UPDATED_BY_LATER_IMPORT.value))
            .alias("reason"),
        ),
    )
    con.execute("DELETE FROM contacts WHERE rowid IN (SELECT contact_rowid FROM reverted_rows)")
    # The rows as they were before the import; a contact it created has none, so stays deleted.
    con.execute(
        """INSERT INTO contacts BY NAME
            SELECT * FROM contacts AT (VERSION => ?)
            WHERE org_id = ? AND phone_number IN (SELECT phone_number FROM reverted_rows)""",
        [before, org_id],
    )
    removed = con.execute(
        """DELETE FROM audience_members
           WHERE org_id = ? AND import_id = ?
             AND phone_number NOT IN (SELECT phone_number FROM kept_rows)""",
        [org_id, import_id],
    ).fetchall()[0][0]
    result = RevertResult(
        reverted=reverted.height,
        kept=written.height - reverted.height,
        memberships_removed=int(removed),
        reverted_at=now,
        run_id=run_id,
    )
    con.execute(
        "INSERT INTO import_revert_kept SELECT ?, ?, phone_number, later_import_id, reason "
        "FROM kept_rows",
        [import_id, org_id],
    )
    con.execute(
        "INSERT INTO import_reverts VALUES (?, ?, ?, ?, ?, ?, ?)",
        [import_id, org_id, run_id, now, result.reverted, result.kept, removed],
    )
    con.execute("UPDATE imports SET status = ? WHERE import_id = ?", [REVERTED_STATUS, import_id])
    con.execute(f"CALL {lake.ALIAS}.set_commit_message(?, ?)", [org_id, COMMIT_PREFIX + import_id])
    return result
