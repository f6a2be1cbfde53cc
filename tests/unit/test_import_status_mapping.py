"""docs/api.md's run-status → import-status table, row by row, and the counts an import reports
when its newest run recorded none (`core.contracts.status`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dagster import DagsterRunStatus

from core.contracts.status import ImportOutcome, ImportStatus, import_outcome, import_status
from core.contracts.tags import LEGACY_COUNTS_PREFIX, LEGACY_COUNTS_RUN_ID, count_tags

TOTAL = 5
RUN = "run-new"
PARENT = "run-parent"

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_table() -> dict[str | None, ImportStatus]:
    """docs/api.md's table, read from the doc: each non-SUCCESS run status (and "not submitted
    yet", None) to the import status its row names. SUCCESS rows depend on the counts (below)."""
    rows = re.findall(r"^\| (.+?) \| `([A-Z_]+)` \|$", API_DOC.read_text(), flags=re.M)
    table: dict[str | None, ImportStatus] = {}
    for statuses, import_status_name in rows:
        if statuses.startswith("`SUCCESS`"):
            statuses = statuses.split(",", 1)[1] if "," in statuses else ""
        for name in re.findall(r"`([A-Z_]+)`", statuses):
            table[name] = ImportStatus(import_status_name)
        if "not submitted yet" in statuses:
            table[None] = ImportStatus(import_status_name)
    return table


# SUSPENDED: Dagster's "started, waiting on external work", neither finished nor failed.
TABLE = documented_table()


def counts(
    created: int, updated: int, failed: int, error_count: int, skipped: int = 0
) -> dict[str, int]:
    return {
        "total": TOTAL,
        "created": created,
        "updated": updated,
        "failed": failed,
        "errorCount": error_count,
        "skipped": skipped,
    }


def test_every_dagster_run_status_has_a_row() -> None:
    """A status Dagster adds must be placed in the table on purpose, not fall into FAILED."""
    assert {status.value for status in DagsterRunStatus} == {s for s in TABLE if s} | {"SUCCESS"}


@pytest.mark.parametrize("failed", [0, 2, TOTAL])
@pytest.mark.parametrize(("run_status", "expected"), [(s, i) for s, i in TABLE.items()])
def test_non_success_statuses_ignore_the_counts(
    run_status: str | None, expected: ImportStatus, failed: int
) -> None:
    assert import_status(run_status, TOTAL, failed) is expected


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        (0, ImportStatus.COMPLETED),
        (1, ImportStatus.COMPLETED_WITH_ERRORS),
        (TOTAL - 1, ImportStatus.COMPLETED_WITH_ERRORS),
        (TOTAL, ImportStatus.FAILED),
    ],
)
def test_success_is_decided_by_failed_rows(failed: int, expected: ImportStatus) -> None:
    assert import_status("SUCCESS", TOTAL, failed) is expected


def test_an_import_not_submitted_yet_is_pending_with_zero_counts() -> None:
    assert import_outcome(None, None, {}, TOTAL) == ImportOutcome(
        ImportStatus.PENDING, TOTAL, created=0, updated=0, failed=0, error_count=0
    )


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (counts(3, 2, 0, 0), ImportStatus.COMPLETED),
        (counts(1, 1, 3, 5), ImportStatus.COMPLETED_WITH_ERRORS),
        (counts(0, 0, TOTAL, 7), ImportStatus.FAILED),
        (counts(1, 0, 0, 0, skipped=TOTAL - 1), ImportStatus.COMPLETED),  # skipped: not failed
        (counts(0, 0, 0, 0, skipped=TOTAL), ImportStatus.COMPLETED),
    ],
)
def test_a_successful_run_reports_the_counts_it_recorded(
    recorded: dict[str, int], expected: ImportStatus
) -> None:
    outcome = import_outcome(RUN, "SUCCESS", count_tags(RUN, recorded), TOTAL)
    assert outcome == ImportOutcome(
        expected,
        TOTAL,
        created=recorded["created"],
        updated=recorded["updated"],
        failed=recorded["failed"],
        error_count=recorded["errorCount"],
        skipped=recorded["skipped"],
    )


def legacy_count_tags(run_id: str, recorded: dict[str, int]) -> dict[str, str]:
    """How runs of releases before the one `oliai/counts` tag recorded their counts."""
    return {
        LEGACY_COUNTS_RUN_ID: run_id,
        **{LEGACY_COUNTS_PREFIX + field: str(value) for field, value in recorded.items()},
    }


def test_a_run_of_an_earlier_release_reads_its_count_tags() -> None:
    outcome = import_outcome(RUN, "SUCCESS", legacy_count_tags(RUN, counts(3, 2, 0, 1)), TOTAL)
    assert (outcome.created, outcome.updated, outcome.error_count) == (3, 2, 1)
    inherited = legacy_count_tags(PARENT, counts(3, 2, 0, 1))
    assert import_outcome(RUN, "SUCCESS", inherited, TOTAL).created == 0


def test_a_run_of_a_release_before_skipped_counts_reads_zero_skipped() -> None:
    recorded = legacy_count_tags(RUN, counts(3, 2, 0, 0))
    del recorded[LEGACY_COUNTS_PREFIX + "skipped"]
    outcome = import_outcome(RUN, "SUCCESS", recorded, TOTAL)
    assert (outcome.created, outcome.updated, outcome.skipped) == (3, 2, 0)


def test_a_run_records_its_counts_in_one_tag() -> None:
    assert count_tags(RUN, counts(3, 2, 0, 1)) == {
        "oliai/counts": f'{{"run":"{RUN}","total":5,"created":3,"updated":2,"failed":0,'
        '"errorCount":1,"skipped":0}'
    }


@pytest.mark.parametrize("run_status", ["FAILURE", "CANCELED"])
def test_a_run_that_ended_without_counts_failed_every_row(run_status: str) -> None:
    """api.md: `failed` is all rows when the run failed without writing."""
    assert import_outcome(RUN, run_status, {}, TOTAL) == ImportOutcome(
        ImportStatus.FAILED, TOTAL, created=0, updated=0, failed=TOTAL, error_count=0
    )


@pytest.mark.parametrize("run_status", ["FAILURE", "CANCELED"])
def test_counts_inherited_from_the_re_executed_run_do_not_count(run_status: str) -> None:
    """A re-execution copies its parent's tags: the parent's counts are not the new run's."""
    inherited = count_tags(PARENT, counts(5, 0, 0, 0))
    assert import_outcome(RUN, run_status, inherited, TOTAL) == ImportOutcome(
        ImportStatus.FAILED, TOTAL, created=0, updated=0, failed=TOTAL, error_count=0
    )


@pytest.mark.parametrize(
    ("run_status", "expected"),
    [
        ("QUEUED", ImportStatus.PENDING),
        ("STARTING", ImportStatus.PROCESSING),
        ("STARTED", ImportStatus.PROCESSING),
        ("CANCELING", ImportStatus.PROCESSING),
    ],
)
def test_a_re_execution_in_flight_reports_zero_counts_not_its_parents(
    run_status: str, expected: ImportStatus
) -> None:
    """api.md: `created`, `updated` are 0 until the (newest) run ends."""
    inherited = count_tags(PARENT, counts(1, 1, 3, 5))
    assert import_outcome(RUN, run_status, inherited, TOTAL) == ImportOutcome(
        expected, TOTAL, created=0, updated=0, failed=0, error_count=0
    )


@pytest.mark.parametrize(
    "broken",
    [
        f'{{"run":"{RUN}","total":5,"created":0,"updated":0,"failed":"many","errorCount":2,'
        '"skipped":0}',  # not a number
        f'{{"run":"{RUN}","total":5,"created":0,"updated":0,"failed":2,"skipped":0}}',  # missing
        "total=5",  # not JSON
        '["run-new"]',  # not an object
    ],
)
def test_unreadable_counts_are_treated_as_none(broken: str) -> None:
    tags = {"oliai/counts": broken}
    assert import_outcome(RUN, "FAILURE", tags, TOTAL) == ImportOutcome(
        ImportStatus.FAILED, TOTAL, created=0, updated=0, failed=TOTAL, error_count=0
    )


@pytest.mark.parametrize(
    ("run_status", "recorded", "expected"),
    [
        ("FAILURE", (2, 1, 2, 3), ImportStatus.COMPLETED_WITH_ERRORS),
        ("CANCELED", (3, 2, 0, 0), ImportStatus.COMPLETED),
        ("FAILURE", (0, 0, 5, 5), ImportStatus.FAILED),
    ],
)
def test_a_run_that_died_after_its_write_committed_reports_the_committed_counts(
    run_status: str, recorded: tuple[int, int, int, int], expected: ImportStatus
) -> None:
    """What the warehouse committed is the truth (the sensor records those counts on the run)."""
    created, updated, failed, errors = recorded
    tags = count_tags(RUN, counts(created, updated, failed, errors))
    assert import_outcome(RUN, run_status, tags, TOTAL) == ImportOutcome(
        expected, TOTAL, created=created, updated=updated, failed=failed, error_count=errors
    )
