"""Run tags: how an import's runs are found, and where a run leaves its final counts."""

from __future__ import annotations

import json
from collections.abc import Mapping

IMPORT_ID = "oliai/import_id"
ORG_ID = "oliai/org_id"
# The Dagster UI's "Launched by" column shows this tag's value (else "Manually launched").
LAUNCHED_BY = "user"
API_LAUNCHER = "OliAI API"
# One tag holds a run's final counts, and the run that recorded them (re-executions copy their
# parent's tags, so counts say which run recorded them): `{"run": "<run id>", "total": 5, ...}`.
COUNTS = "oliai/counts"
COUNT_FIELDS = ("total", "created", "updated", "failed", "errorCount", "skipped")
# Runs of releases before the one tag kept each count in a tag of its own (and no `skipped`
# before import modes): still read, for the history of a data directory that moved forward.
LEGACY_COUNTS_PREFIX = "oliai/count_"
LEGACY_COUNTS_RUN_ID = "oliai/counts_run_id"


def count_tags(run_id: str, counts: Mapping[str, int]) -> dict[str, str]:
    recorded = {"run": run_id, **{field: counts[field] for field in COUNT_FIELDS}}
    return {COUNTS: json.dumps(recorded, separators=(",", ":"))}


def counts_from_tags(run_id: str, tags: Mapping[str, str]) -> dict[str, int] | None:
    """The counts this run recorded, or None if it recorded none (it failed first, or has not
    got there yet, or the counts were inherited from the run it re-executes)."""
    if COUNTS not in tags:
        return _legacy_counts(run_id, tags)
    try:
        recorded = json.loads(tags[COUNTS])
        if recorded.get("run") != run_id:
            return None
        return {field: int(recorded[field]) for field in COUNT_FIELDS}
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _legacy_counts(run_id: str, tags: Mapping[str, str]) -> dict[str, int] | None:
    if tags.get(LEGACY_COUNTS_RUN_ID) != run_id:
        return None
    recorded = {LEGACY_COUNTS_PREFIX + "skipped": "0", **tags}
    try:
        return {field: int(recorded[LEGACY_COUNTS_PREFIX + field]) for field in COUNT_FIELDS}
    except (KeyError, ValueError):
        return None


# A revert run (job `revert_import`) names the import it reverts with its own tag: under
# IMPORT_ID the import's status lookup would take it for the import's newest run.
REVERT_OF = "oliai/revert_of"
REVERT_COUNTS = "oliai/revert_counts"
REVERT_COUNT_FIELDS = ("reverted", "kept", "membershipsRemoved")


def revert_count_tags(counts: Mapping[str, int]) -> dict[str, str]:
    recorded = {field: counts[field] for field in REVERT_COUNT_FIELDS}
    return {REVERT_COUNTS: json.dumps(recorded, separators=(",", ":"))}


def revert_counts_from_tags(tags: Mapping[str, str]) -> dict[str, int] | None:
    """The counts a revert run recorded (read only from a run that succeeded: a re-execution
    copies its parent's tags and records the same counts again)."""
    try:
        recorded = json.loads(tags[REVERT_COUNTS])
        return {field: int(recorded[field]) for field in REVERT_COUNT_FIELDS}
    except (KeyError, TypeError, ValueError):
        return None
