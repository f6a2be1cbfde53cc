"""What the API, the code location and the CLI agree on without importing each other: the
Dagster names an import is submitted under, its run tags, how a run's status maps to an
import's status, and the grammar of organization ids. Plain Python, no Dagster import."""

from datetime import datetime

LOCATION_NAME = "oliai"  # the Dagster code location, as workspace.yaml names it
IMPORT_JOB = "import_contacts"  # the job that processes one accepted import
REVERT_JOB = "revert_import"  # the job that reverts one import (issue 18)
# Runs of one organization the queue starts at once (the rest wait, first in first out): one
# writes while the next starts and applies the row rules; they write one at a time, in queue
# order (orchestration/write_order.py). A third would only wait on these 2 cores.
RUNS_PER_ORGANIZATION = 2


def acceptance_sequence(accepted_at: datetime) -> int:
    """An import's place in acceptance order: microseconds since the epoch of its 202. The
    warehouse lets a value written by a later sequence win over an earlier one."""
    return round(accepted_at.timestamp() * 1_000_000)
