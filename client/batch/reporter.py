"""What a run tells its user: the plan and each batch as it goes (`Reporter`), and how it ended
(`RunSummary`, `DryRunSummary`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from client.batch.checkpoint import BatchResult, camel
from client.batch.options import BatchImportError, ExitCode
from client.batch.source import Batch
from client.errors import RetryNotice
from client.schemas import RowError


@dataclass(frozen=True)
class Plan:
    path: Path
    estimated_rows: int | None
    estimated_batches: int | None
    batch_size: int
    resumed_batches: int
    dry_run: bool = False


class Reporter(Protocol):
    """What a run tells its user; `client.batch.console` draws it with rich."""

    def started(self, plan: Plan) -> None: ...
    def batch_posted(self, batch: Batch, import_id: str) -> None: ...
    def batch_done(self, batch: Batch, result: BatchResult | None) -> None: ...
    def retry(self, notice: RetryNotice) -> None: ...
    def note(self, message: str) -> None: ...
    def finished(self) -> None: ...


class SilentReporter:
    def started(self, plan: Plan) -> None:
        pass

    def batch_posted(self, batch: Batch, import_id: str) -> None:
        pass

    def batch_done(self, batch: Batch, result: BatchResult | None) -> None:
        pass

    def retry(self, notice: RetryNotice) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def finished(self) -> None:
        pass


@dataclass
class RunSummary:
    path: Path
    batches: list[BatchResult]
    errors_path: Path
    checkpoint_path: Path
    elapsed_s: float
    rows_this_run: int
    stopped: BatchImportError | None = None
    already_done: bool = False
    webhook_wakeups: int = 0  # batches whose wait a verified import.completed ended

    @property
    def totals(self) -> dict[str, int]:
        keys = ("total", "created", "updated", "skipped", "failed", "error_count")
        return {key: sum(getattr(result, key) for result in self.batches) for key in keys}

    @property
    def rows_per_s(self) -> float:
        return self.rows_this_run / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.stopped is not None:
            return self.stopped.exit_code
        return ExitCode.ROW_ERRORS if self.totals["failed"] else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "exitCode": self.exit_code,
            "stopped": str(self.stopped) if self.stopped else None,
            "alreadyDone": self.already_done,
            "totals": {camel(key): value for key, value in self.totals.items()},
            "batches": [{**result.to_json(), "resumed": result.resumed} for result in self.batches],
            "errorsFile": str(self.errors_path),
            "checkpoint": str(self.checkpoint_path),
            "elapsedSeconds": round(self.elapsed_s, 3),
            "rowsPerSecond": round(self.rows_per_s, 1),
            "webhookWakeups": self.webhook_wakeups,
        }


@dataclass
class DryRunSummary:
    path: Path
    batches: int
    total: int
    valid: int
    failed: int
    error_count: int
    # What the import would do, each batch judged against the contacts stored now.
    created: int
    updated: int
    skipped: int
    by_code: Counter[tuple[str, str]]
    sample: list[tuple[int, RowError]]
    errors_path: Path
    elapsed_s: float

    @property
    def exit_code(self) -> int:
        return ExitCode.ROW_ERRORS if self.failed else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "exitCode": self.exit_code,
            "batches": self.batches,
            "total": self.total,
            "valid": self.valid,
            "failed": self.failed,
            "errorCount": self.error_count,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "errorsByCode": [
                {"field": field_name, "code": code, "count": count}
                for (field_name, code), count in self.by_code.most_common()
            ],
            "errorsFile": str(self.errors_path),
            "elapsedSeconds": round(self.elapsed_s, 3),
        }
