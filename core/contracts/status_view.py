"""An import's status and counts as they leave the service, built once for both readers: the
status endpoint (its fields after `id`, history items too) and the `import.completed` webhook
(its fields between `importId` and `runId`). Both therefore say the same thing in the same
words, `completedAt` written to the millisecond (`timestamps`).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.contracts.status import TERMINAL, ImportOutcome
from core.contracts.timestamps import Timestamp


class StatusFields(msgspec.Struct, rename="camel", frozen=True):
    status: str
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    skipped: int
    completed_at: Timestamp | None


def status_fields(outcome: ImportOutcome, ended_at: datetime | None) -> StatusFields:
    """`ended_at` is the end of the run `outcome` came from; `completedAt` carries it once the
    import is terminal (null while it is pending or processing)."""
    return StatusFields(
        status=outcome.status.value,
        total=outcome.total,
        created=outcome.created,
        updated=outcome.updated,
        failed=outcome.failed,
        error_count=outcome.error_count,
        skipped=outcome.skipped,
        completed_at=Timestamp.of(ended_at) if ended_at and outcome.status in TERMINAL else None,
    )
