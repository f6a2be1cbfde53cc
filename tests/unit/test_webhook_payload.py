"""The `import.completed` body: the status endpoint's fields (one builder) between `importId` and
`runId`, `completedAt` written to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime

from core.contracts.status import ImportOutcome, ImportStatus
from core.contracts.status_view import status_fields
from orchestration.webhooks.payloads import completed_payload


def test_payload_is_exactly_the_documented_shape() -> None:
    outcome = ImportOutcome(
        ImportStatus.COMPLETED_WITH_ERRORS, 6, created=2, updated=1, failed=3, error_count=5
    )
    ended = datetime(2026, 3, 10, 10, 5, 0, 24_113, tzinfo=UTC)
    body = completed_payload("imp_1", status_fields(outcome, ended), "13089037-9806")
    assert body == (
        '{"event":"import.completed","importId":"imp_1","status":"COMPLETED_WITH_ERRORS",'
        '"total":6,"created":2,"updated":1,"failed":3,"errorCount":5,"skipped":0,'
        '"completedAt":"2026-03-10T10:05:00.024Z","runId":"13089037-9806"}'
    )
