"""Run tags: how an import's runs are found, and where a run leaves its final counts."""

from __future__ import annotations

from collections.abc import Mapping

IMPORT_ID = "oliai/import_id"
ORG_ID = "oliai/org_id"
COUNTS_PREFIX = "oliai/count_"
# Re-executions copy their parent's tags, so counts say which run recorded them.
COUNTS_RUN_ID = "oliai/counts_run_id"
COUNT_FIELDS = ("total", "created", "updated", "failed", "errorCount", "skipped")
# Counts that runs of earlier releases did not record: read as this when absent.
_ABSENT_IN_EARLIER_RELEASES = {COUNTS_PREFIX + "skipped": "0"}


def count_tags(run_id: str, counts: Mapping[str, int]) -> dict[str, str]:
    return {
        COUNTS_RUN_ID: run_id,
        **{COUNTS_PREFIX + field: str(counts[field]) for field in COUNT_FIELDS},
    }


def counts_from_tags(run_id: str, tags: Mapping[str, str]) -> dict[str, int] | None:
    """The counts this run recorded, or None if it recorded none (it failed first, or has not
    got there yet, or the counts were inherited from the run it re-executes)."""
    if tags.get(COUNTS_RUN_ID) != run_id:
        return None
    recorded = {**_ABSENT_IN_EARLIER_RELEASES, **tags}
    try:
        return {field: int(recorded[COUNTS_PREFIX + field]) for field in COUNT_FIELDS}
    except (KeyError, ValueError):
        return None


# A revert run (job `revert_import`) names the import it reverts with its own tag: under
# IMPORT_ID the import's status lookup would take it for the import's newest run.
REVERT_OF = "oliai/revert_of"
REVERT_COUNTS_PREFIX = "oliai/revert_"
REVERT_COUNT_FIELDS = ("reverted", "kept", "membershipsRemoved")


def revert_count_tags(counts: Mapping[str, int]) -> dict[str, str]:
    return {REVERT_COUNTS_PREFIX + field: str(counts[field]) for field in REVERT_COUNT_FIELDS}


def revert_counts_from_tags(tags: Mapping[str, str]) -> dict[str, int] | None:
    """The counts a revert run recorded (read only from a run that succeeded: a re-execution
    copies its parent's tags and records the same counts again)."""
    try:
        return {field: int(tags[REVERT_COUNTS_PREFIX + field]) for field in REVERT_COUNT_FIELDS}
    except (KeyError, ValueError):
        return None
