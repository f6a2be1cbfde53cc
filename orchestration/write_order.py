"""One organization's runs write the lake in the order they were queued, while more than one of
them runs at once.

The run queue starts up to `core.contracts.RUNS_PER_ORGANIZATION` runs of an organization
together, so the next import's worker starts and applies the row rules while the one before
writes. Each run then waits here, before opening the lake, until every run of its organization
queued before it (and still running) has committed its write or ended: the writes stay one at a
time, in acceptance order, as when the queue let one run through (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from core.contracts import tags

# Runs holding a place in the organization's line. A queued run never is: the queue releases an
# organization's runs first in, first out, so none queued is ahead of one that started.
_RUNNING = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
POLL_S = 0.01


def has_written(run_id: str, run_tags: Mapping[str, str]) -> bool:
    """Whether the run committed its write (it recorded its counts right after)."""
    return tags.counts_from_tags(run_id, run_tags) is not None or tags.REVERT_COUNTS in run_tags


def runs_ahead(instance: DagsterInstance, run_id: str, org_id: str) -> list[str]:
    """The organization's runs queued before `run_id`, still running, that have not written."""
    records = instance.get_run_records(
        filters=RunsFilter(tags={tags.ORG_ID: org_id}, statuses=_RUNNING)
    )
    mine = next((r.storage_id for r in records if r.dagster_run.run_id == run_id), None)
    if mine is None:  # not running: nothing can be ahead of it any more
        return []
    return [
        r.dagster_run.run_id
        for r in records
        if r.storage_id < mine and not has_written(r.dagster_run.run_id, r.dagster_run.tags)
    ]


def wait_for_turn(
    instance: DagsterInstance, run_id: str, org_id: str, log: Callable[[str], None]
) -> None:
    """Blocks until no run of the organization queued before this one is still to write. A run
    whose worker died counts until run monitoring ends it (docs/reliability.md)."""
    ahead = runs_ahead(instance, run_id, org_id)
    if ahead:
        log(f"waiting for the organization's earlier run(s) {', '.join(ahead)} to write first")
    while ahead:
        time.sleep(POLL_S)
        ahead = runs_ahead(instance, run_id, org_id)
