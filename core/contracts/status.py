"""The SPEC's mapping from a Dagster run's status (by name) and its counts to an import status.

Plain strings, no Dagster import: the API and the webhook sensor both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.contracts.tags import counts_from_tags


class ImportStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    # Its revert ran (POST /v1/imports/{id}/revert): not a run status of the import's own.
    REVERTED = "REVERTED"


TERMINAL = frozenset(
    {
        ImportStatus.COMPLETED,
        ImportStatus.COMPLETED_WITH_ERRORS,
        ImportStatus.FAILED,
        ImportStatus.REVERTED,
    }
)

_IN_FLIGHT = {
    "QUEUED": ImportStatus.PENDING,
    "NOT_STARTED": ImportStatus.PENDING,
    "MANAGED": ImportStatus.PENDING,
    "STARTING": ImportStatus.PROCESSING,
    "STARTED": ImportStatus.PROCESSING,
    # Started and waiting on external work without a worker: not finished, so not FAILED.
    "SUSPENDED": ImportStatus.PROCESSING,
    "CANCELING": ImportStatus.PROCESSING,
}


def status_from_counts(total: int, failed: int) -> ImportStatus:
    """The status of an import whose run succeeded. Rows skipped by the import's mode are not
    failures: an import that skipped everything is COMPLETED."""
    if failed == 0:
        return ImportStatus.COMPLETED
    if failed < total:
        return ImportStatus.COMPLETED_WITH_ERRORS
    return ImportStatus.FAILED


def import_status(run_status: str | None, total: int, failed: int) -> ImportStatus:
    """`run_status` is None while the import waits to be submitted to Dagster."""
    if run_status is None:
        return ImportStatus.PENDING
    if run_status in _IN_FLIGHT:
        return _IN_FLIGHT[run_status]
    if run_status == "SUCCESS":
        return status_from_counts(total, failed)
    return ImportStatus.FAILED  # FAILURE, CANCELED


@dataclass(frozen=True)
class ImportOutcome:
    status: ImportStatus
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    skipped: int = 0


ENDED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


def import_outcome(
    run_id: str | None, run_status: str | None, run_tags: Mapping[str, str], total: int
) -> ImportOutcome:
    """Status and counts of an import from its newest run (all None: not submitted yet).

    What the warehouse committed is the truth: an ended run that recorded counts (its write
    committed, even if the run died after it) reports them and the status they give.
    """
    counts = counts_from_tags(run_id, run_tags) if run_id else None
    if counts is not None and run_status in ENDED:
        status = status_from_counts(total, counts["failed"])
    else:
        status = import_status(run_status, total, counts["failed"] if counts else 0)
    if counts is None:
        # A run that ended without recording counts imported nothing: every row failed.
        failed = total if status is ImportStatus.FAILED else 0
        return ImportOutcome(status, total, created=0, updated=0, failed=failed, error_count=0)
    return ImportOutcome(
        status,
        total,
        created=counts["created"],
        updated=counts["updated"],
        failed=counts["failed"],
        error_count=counts["errorCount"],
        skipped=counts["skipped"],
    )
