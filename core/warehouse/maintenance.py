"""Keeping the lake small and fast: what the `warehouse_maintenance` job runs.

Every import writes a snapshot with a few small files (and delete files for the contacts it
replaced). Maintenance moves inlined rows into Parquet, rewrites files with deleted rows, merges
small files, then expires snapshots older than the retention (time travel
reaches back that far, no further) and deletes the files no snapshot needs any more, and files no
write finished, once they are older than a grace period (a reader still scanning them is not cut
off). Rewriting before merging and expiring last is what lets one run shrink the lake: measured
after 40 imports of 500 into 100k contacts, 41 contacts files and their deletes became 1 file
(DuckLake's CHECKPOINT order merged nothing: merging skips files with deletes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import duckdb

from core.warehouse.lake import ALIAS
from core.warehouse.writer import retrying_conflicts

CATALOG = f"__ducklake_metadata_{ALIAS}.ducklake"
# Every file with a deleted row is rewritten: each import deletes a few rows of many files, which
# stay under any threshold above 0 (at 10 %, 200 imports left 195 of 196 contacts files carrying
# delete files, and merging skips such files); nightly, rewriting them all costs about a second
# per million contacts.
REWRITE_THRESHOLD = 0.0


@dataclass(frozen=True)
class Footprint:
    data_files: int
    delete_files: int
    snapshots: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def footprint(con: duckdb.DuckDBPyConnection) -> Footprint:
    rows = con.execute(
        f"""SELECT
            (SELECT count(*) FROM {CATALOG}.ducklake_data_file WHERE end_snapshot IS NULL),
            (SELECT count(*) FROM {CATALOG}.ducklake_delete_file WHERE end_snapshot IS NULL),
            (SELECT count(*) FROM {ALIAS}.snapshots())"""
    ).fetchall()
    return Footprint(*rows[0])


def maintain(
    con: duckdb.DuckDBPyConnection, *, keep_snapshots: timedelta, file_grace: timedelta
) -> tuple[Footprint, Footprint]:
    """Run every step; returns the lake's footprint before and after. A step that conflicts
    with an import's commit is retried."""
    before = footprint(con)
    keep = f"INTERVAL '{int(keep_snapshots.total_seconds())} seconds'"
    grace = f"INTERVAL '{int(file_grace.total_seconds())} seconds'"
    for statement in [
        f"CALL ducklake_flush_inlined_data('{ALIAS}')",
        f"CALL ducklake_rewrite_data_files('{ALIAS}', delete_threshold => {REWRITE_THRESHOLD})",
        f"CALL ducklake_merge_adjacent_files('{ALIAS}')",
        f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => now() - {keep})",
        f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => now() - {grace})",
        f"CALL ducklake_delete_orphaned_files('{ALIAS}', older_than => now() - {grace})",
    ]:
        for attempt in retrying_conflicts():
            with attempt:
                con.execute(statement).fetchall()
    return before, footprint(con)
