"""Large files through the bulk endpoint: batches sent one after another, resumable, exactly once.

The reference's advice for more than 10,000 contacts (split into batches of 5,000 to 10,000, send
them sequentially, wait for each to finish, chain them from the webhook), as a library:

- the file is streamed (`client.contact_files`), so only one batch is in memory;
- each batch is POSTed with a deterministic `Idempotency-Key` (a hash of the run's fingerprint
  and the batch number), then awaited: polled with backoff, or woken by the signed
  `import.completed` webhook on a local receiver (polling stays as the fallback);
- a checkpoint next to the input (`<file>.oliai-checkpoint.json`) records every finished batch
  with its import id and counts, and the batch in flight with its key. Re-running the same
  command skips finished batches and re-attaches to the one in flight, so a crash at any point
  never creates a second import of a batch;
- row errors of every batch land in one CSV (`<file>.oliai-errors.csv`) with the row numbers of
  the original file.

It lives in `api/` beside the client it drives, not in `orchestration/` (the Dagster code
location): it is client code, and importing it pulls in neither litestar nor dagster.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol

from client.contact_files import (
    ContactFileError,
    FileFormat,
    SourceRow,
    detect_format,
    read_contacts,
)
from client.imports_client import (
    MAX_CONTACTS,
    ApiError,
    ImportsClient,
    ImportStatusView,
    PollPolicy,
    RetryNotice,
    RowError,
    WaitTimeout,
)
from client.spreadsheet_safety import spreadsheet_safe
from core.contracts.status import TERMINAL

CHECKPOINT_VERSION = 1
ERRORS_HEADER = ("row", "field", "code", "message", "value", "batch", "import_id", "row_index")
DEFAULT_BATCH_SIZE = 5_000


class ExitCode:
    """`oliai import`'s exit codes (docs/batch-import.md)."""

    OK = 0
    ROW_ERRORS = 1  # every batch finished, some rows failed (see the errors CSV)
    BAD_INPUT = 2  # bad options, unreadable file, missing columns
    BATCH_FAILED = 3  # a batch ended FAILED and --continue-on-error was not given
    API_ERROR = 4  # the API refused a request, retries ran out, or a batch did not finish
    INTERRUPTED = 130


class WaitMode(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


class BatchImportError(Exception):
    """The run stopped; `exit_code` says why (the checkpoint keeps what was finished)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class BatchImportOptions:
    path: Path
    batch_size: int = DEFAULT_BATCH_SIZE
    audience_id: str | None = None
    # Sent with every batch. In webhook mode: the URL at which the API reaches the local
    # receiver (default: http://<listen host>:<listen port>/oliai/import-completed).
    webhook_url: str | None = None
    wait_mode: WaitMode = WaitMode.POLL
    webhook_secret: str | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    continue_on_error: bool = False
    batch_timeout_s: float = 3600.0
    webhook_fallback_poll_s: float = 10.0
    file_format: FileFormat | None = None

    def validate(self) -> None:
        if not 1 <= self.batch_size <= MAX_CONTACTS:
            raise BatchImportError(
                f"--batch-size must be between 1 and {MAX_CONTACTS:,} (the API's limit per "
                f"request), not {self.batch_size}.",
                ExitCode.BAD_INPUT,
            )
        if self.wait_mode is WaitMode.WEBHOOK and not self.webhook_secret:
            raise BatchImportError(
                "--wait-mode webhook needs the organization's webhook signing secret "
                "(--webhook-secret or OLIAI_WEBHOOK_SECRET; `oliai webhooks secret --org ORG`).",
                ExitCode.BAD_INPUT,
            )
        if not self.path.is_file():
            raise BatchImportError(f"No such file: {self.path}", ExitCode.BAD_INPUT)


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".oliai-checkpoint.json")


def errors_path(path: Path, *, dry_run: bool = False) -> Path:
    return path.with_name(
        path.name + (".oliai-dry-run-errors.csv" if dry_run else ".oliai-errors.csv")
    )


# ----------------------------------------------------------------------------------- the input


@dataclass(frozen=True)
class FileScan:
    digest: str
    size: int
    lines: int


def scan_file(path: Path, chunk_bytes: int = 1 << 20) -> FileScan:
    """BLAKE2b of the whole content (the fingerprint's core) and its line count (the progress
    estimate), in one pass of constant memory."""
    digest = hashlib.blake2b(digest_size=20)
    size = lines = 0
    last = b""
    with open(path, "rb") as file:
        while chunk := file.read(chunk_bytes):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last and last != b"\n":
        lines += 1
    return FileScan(digest.hexdigest(), size, lines)


def estimated_rows(path: Path, file_format: FileFormat, scan: FileScan) -> int | None:
    """Rows to expect, for the progress bar: exact unless CSV values span lines or rows are
    blank; None when the format does not tell cheaply (a JSON array)."""
    if file_format is FileFormat.CSV:
        return max(scan.lines - 1, 0)
    if file_format is FileFormat.NDJSON:
        return scan.lines
    if file_format is FileFormat.XLSX:
        import openpyxl

        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            rows = workbook.worksheets[0].max_row
        finally:
            workbook.close()
        return max((rows or 1) - 1, 0)
    return None


@dataclass(frozen=True)
class Batch:
    number: int  # from 1
    rows: list[SourceRow]

    @property
    def first_row(self) -> int:
        return self.rows[0].row_number

    @property
    def last_row(self) -> int:
        return self.rows[-1].row_number

    @property
    def contacts(self) -> list[dict[str, Any]]:
        return [row.contact for row in self.rows]


def batches(rows: Iterable[SourceRow], size: int) -> Iterator[Batch]:
    chunk: list[SourceRow] = []
    number = 0
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            number += 1
            yield Batch(number, chunk)
            chunk = []
    if chunk:
        yield Batch(number + 1, chunk)


def fingerprint(options: BatchImportOptions, scan: FileScan, client_identity: str) -> str:
    """Same file content, same batching options, same API and key → same fingerprint, so the
    same checkpoint entry and the same Idempotency-Keys."""
    parts = {
        "version": CHECKPOINT_VERSION,
        "digest": scan.digest,
        "size": scan.size,
        "batchSize": options.batch_size,
        "audienceId": options.audience_id,
        "webhookUrl": options.webhook_url,
        "format": options.file_format,
        "api": client_identity,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def idempotency_key(run_fingerprint: str, batch_number: int) -> str:
    digest = hashlib.sha256(f"{run_fingerprint}:{batch_number}".encode()).hexdigest()
    return f"oliai-batch-{digest[:40]}"


# ------------------------------------------------------------------------------- the checkpoint


@dataclass
class BatchResult:
    batch: int
    first_row: int
    last_row: int
    import_id: str
    status: str
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    resumed: bool = False  # finished by an earlier run of the same command

    def to_json(self) -> dict[str, Any]:
        return {_camel(key): value for key, value in asdict(self).items() if key != "resumed"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchResult:
        return cls(**{_snake(key): value for key, value in data.items()}, resumed=True)


@dataclass
class InFlight:
    batch: int
    idempotency_key: str
    webhook_url: str | None
    import_id: str | None = None


@dataclass
class RunState:
    """One fingerprint's progress, as stored in the checkpoint."""

    file: str
    batch_size: int
    started_at: str
    finished: dict[int, BatchResult] = field(default_factory=dict)
    in_flight: InFlight | None = None
    errors_bytes: int = 0
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "batchSize": self.batch_size,
            "startedAt": self.started_at,
            "updatedAt": _now(),
            "done": self.done,
            "errorsBytes": self.errors_bytes,
            "inFlight": (
                {_camel(key): value for key, value in asdict(self.in_flight).items()}
                if self.in_flight
                else None
            ),
            "finished": [self.finished[number].to_json() for number in sorted(self.finished)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        in_flight = data.get("inFlight")
        finished = [BatchResult.from_json(item) for item in data.get("finished", [])]
        return cls(
            file=data["file"],
            batch_size=data["batchSize"],
            started_at=data["startedAt"],
            finished={result.batch: result for result in finished},
            in_flight=(
                InFlight(**{_snake(key): value for key, value in in_flight.items()})
                if in_flight
                else None
            ),
            errors_bytes=data.get("errorsBytes", 0),
            done=data.get("done", False),
        )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Checkpoint:
    """`<file>.oliai-checkpoint.json`: `{"version": 1, "runs": {fingerprint: RunState}}`.

    Every save replaces the file atomically (write, fsync, rename), so a kill at any moment
    leaves either the previous or the new version. A lock file keeps two runs off one checkpoint.
    """

    def __init__(self, path: Path, input_path: Path) -> None:
        self.path = path
        self._input_path = input_path
        self._runs: dict[str, Any] = {}
        self._lock: IO[bytes] | None = None

    def __enter__(self) -> Checkpoint:
        self._acquire_lock()
        try:
            self._load()
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._release_lock()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BatchImportError(
                f"The checkpoint {self.path} is not valid JSON ({exc}); move it away to start "
                "over.",
                ExitCode.BAD_INPUT,
            ) from None
        if data.get("version") != CHECKPOINT_VERSION:
            raise BatchImportError(
                f"The checkpoint {self.path} has version {data.get('version')!r}; this client "
                f"writes version {CHECKPOINT_VERSION}.",
                ExitCode.BAD_INPUT,
            )
        self._runs = data.get("runs", {})

    def _acquire_lock(self) -> None:
        """An exclusive lock on the input file itself (never replaced, unlike the checkpoint)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the server's Idempotency-Key still protects
            return
        self._lock = open(self._input_path, "rb")  # noqa: SIM115 (held until __exit__)
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._release_lock()
            raise BatchImportError(
                f"Another `oliai import` is running on {self._input_path.name}.",
                ExitCode.BAD_INPUT,
            ) from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def state(self, run_fingerprint: str) -> RunState | None:
        data = self._runs.get(run_fingerprint)
        return RunState.from_json(data) if data else None

    def other_runs(self, run_fingerprint: str) -> int:
        return sum(1 for key in self._runs if key != run_fingerprint)

    def save(self, run_fingerprint: str, state: RunState) -> None:
        self._runs[run_fingerprint] = state.to_json()
        text = json.dumps({"version": CHECKPOINT_VERSION, "runs": self._runs}, indent=1)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


@dataclass
class _Journal:
    """A run's entry in the checkpoint: saved after every step that must survive a crash."""

    checkpoint: Checkpoint
    fingerprint: str
    state: RunState

    def save(self) -> None:
        self.checkpoint.save(self.fingerprint, self.state)


# ------------------------------------------------------------------------------------- errors


class ErrorsFile:
    """The merged errors CSV: one line per row error, with the original file's row number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._writer: Any = None

    def open(self, keep_bytes: int | None) -> bool:
        """Keep the first `keep_bytes` (what the checkpoint vouches for) or start afresh.

        Returns whether the kept part is complete (False: errors of finished batches must be
        fetched again)."""
        intact = (
            keep_bytes is not None and self.path.exists() and self.path.stat().st_size >= keep_bytes
        )
        if intact and keep_bytes:
            self._file = open(self.path, "r+", encoding="utf-8", newline="")  # noqa: SIM115
            self._file.truncate(keep_bytes)
            self._file.seek(keep_bytes)
        else:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        if self._file.tell() == 0:
            self._writer.writerow(ERRORS_HEADER)
            self._file.flush()
        return intact

    def write(self, batch: Batch, import_id: str, errors: Iterable[RowError]) -> int:
        """Appends, flushes and fsyncs; returns the file's size (for the checkpoint)."""
        assert self._file is not None
        for error in errors:
            row_number = batch.rows[error.row_index].row_number
            self._writer.writerow(
                (
                    row_number,
                    error.field,
                    error.code,
                    error.message,
                    "" if error.value is None else spreadsheet_safe(error.value),
                    batch.number,
                    import_id,
                    error.row_index,
                )
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    @property
    def size(self) -> int:
        assert self._file is not None
        return self._file.tell()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# ----------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class Plan:
    path: Path
    estimated_rows: int | None
    estimated_batches: int | None
    batch_size: int
    resumed_batches: int
    dry_run: bool = False


class Reporter(Protocol):
    """What a run tells its user; `client.batch_console` draws it with rich."""

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


# ------------------------------------------------------------------------------------ results


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
        keys = ("total", "created", "updated", "failed", "error_count")
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
            "totals": {_camel(key): value for key, value in self.totals.items()},
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
            "errorsByCode": [
                {"field": field_name, "code": code, "count": count}
                for (field_name, code), count in self.by_code.most_common()
            ],
            "errorsFile": str(self.errors_path),
            "elapsedSeconds": round(self.elapsed_s, 3),
        }


# ---------------------------------------------------------------------------------- waiting


class CompletionReceiver:
    """A local HTTP server for `import.completed` webhooks; only verified deliveries count."""

    def __init__(self, secret: str, host: str, port: int) -> None:
        from standardwebhooks import Webhook

        self._verifier = Webhook(secret)
        self._completed: set[str] = set()
        self._arrived = threading.Condition()
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    payload = receiver._verifier.verify(body, headers)
                except Exception:  # any failure to verify is a rejection, whatever its type
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    receiver.record(payload)
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/oliai/import-completed"

    def record(self, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("event") == "import.completed":
            with self._arrived:
                self._completed.add(str(payload.get("importId")))
                self._arrived.notify_all()

    def wait_for(self, import_id: str, timeout_s: float) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: import_id in self._completed, timeout_s)

    def __enter__(self) -> CompletionReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------------------ the run


class BatchImporter:
    """Runs one file through the API; see the module docstring."""

    def __init__(
        self,
        client: ImportsClient,
        options: BatchImportOptions,
        reporter: Reporter | None = None,
        poll: PollPolicy | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.reporter: Reporter = reporter or SilentReporter()
        self.poll = poll or PollPolicy()
        self._receiver: CompletionReceiver | None = None
        self._webhook_wakeups = 0

    # -- shared ----------------------------------------------------------------------------

    def _prepare(self) -> tuple[FileFormat, FileScan]:
        self.options.validate()
        try:
            file_format = self.options.file_format or detect_format(self.options.path)
        except ContactFileError as exc:
            raise BatchImportError(str(exc), ExitCode.BAD_INPUT) from None
        return file_format, scan_file(self.options.path)

    def _batches(self, file_format: FileFormat) -> Iterator[Batch]:
        try:
            yield from batches(
                read_contacts(self.options.path, file_format), self.options.batch_size
            )
        except ContactFileError as exc:
            raise BatchImportError(str(exc), ExitCode.BAD_INPUT) from None

    # -- the import ------------------------------------------------------------------------

    def run(self) -> RunSummary:
        started = time.monotonic()
        file_format, scan = self._prepare()
        run_fingerprint = fingerprint(self.options, scan, self.client.identity)
        path = self.options.path
        summary = RunSummary(
            path=path,
            batches=[],
            errors_path=errors_path(path),
            checkpoint_path=checkpoint_path(path),
            elapsed_s=0.0,
            rows_this_run=0,
        )
        with Checkpoint(summary.checkpoint_path, path) as checkpoint:
            state = checkpoint.state(run_fingerprint)
            if state is None:
                if checkpoint.other_runs(run_fingerprint):
                    self.reporter.note(
                        "The checkpoint holds progress for another version of this file or other "
                        "options; this run starts from the first batch."
                    )
                state = RunState(path.name, self.options.batch_size, _now())
            journal = _Journal(checkpoint, run_fingerprint, state)
            journal.save()
            if state.done:
                summary.batches = [state.finished[n] for n in sorted(state.finished)]
                summary.already_done = True
            else:
                self._run(file_format, scan, journal, summary)
        summary.elapsed_s = time.monotonic() - started
        summary.webhook_wakeups = self._webhook_wakeups
        return summary

    def _run(
        self, file_format: FileFormat, scan: FileScan, journal: _Journal, summary: RunSummary
    ) -> None:
        state = journal.state
        rows = estimated_rows(self.options.path, file_format, scan)
        size = self.options.batch_size
        self.reporter.started(
            Plan(
                self.options.path,
                rows,
                None if rows is None else max(1, -(-rows // size)),
                size,
                len(state.finished),
            )
        )
        errors = ErrorsFile(summary.errors_path)
        errors_intact = errors.open(state.errors_bytes if state.finished else None)
        if not errors_intact and any(result.error_count for result in state.finished.values()):
            self.reporter.note(f"{errors.path.name} is missing or short: fetching errors again.")
        try:
            with self._waiting():
                for batch in self._batches(file_format):
                    result = state.finished.get(batch.number)
                    if result is None:
                        result = self._import_batch(batch, journal, errors)
                        summary.rows_this_run += len(batch.rows)
                        summary.batches.append(result)
                        self._finish_batch(result, journal)
                    else:
                        if not errors_intact and result.error_count:
                            row_errors = self.client.all_errors(result.import_id)
                            state.errors_bytes = errors.write(batch, result.import_id, row_errors)
                        summary.batches.append(result)
                    self.reporter.batch_done(batch, result)
                if not summary.batches:
                    raise BatchImportError(
                        f"{self.options.path.name} has no contacts.", ExitCode.BAD_INPUT
                    )
                state.done = True
                state.errors_bytes = errors.size
                journal.save()
        except BatchImportError as exc:
            summary.stopped = exc
        except ApiError as exc:
            summary.stopped = BatchImportError(_api_error_message(exc), ExitCode.API_ERROR)
        except WaitTimeout as exc:
            summary.stopped = BatchImportError(
                f"{exc.import_id} did not finish within {self.options.batch_timeout_s:.0f} s "
                f"(last status {exc.last.status if exc.last else 'unknown'}); re-run the same "
                "command to keep waiting for it.",
                ExitCode.API_ERROR,
            )
        finally:
            errors.close()
            self.reporter.finished()

    def _finish_batch(self, result: BatchResult, journal: _Journal) -> None:
        """Record the batch as finished, or stop at a FAILED one. A stopped batch stays in
        flight: a re-run looks at the same import again (it may have been re-executed)."""
        if result.status == "FAILED" and not self.options.continue_on_error:
            raise BatchImportError(
                f"Batch {result.batch} (rows {result.first_row} to {result.last_row}, import "
                f"{result.import_id}) FAILED: {result.failed:,} of {result.total:,} rows failed, "
                f"{result.error_count:,} row errors (in {errors_path(self.options.path).name}). "
                + (
                    "Every row broke a row rule: fix the file, or pass --continue-on-error."
                    if result.error_count
                    else "The import's run failed: re-execute it in the Dagster UI and re-run "
                    "this command, or pass --continue-on-error."
                ),
                ExitCode.BATCH_FAILED,
            )
        journal.state.finished[result.batch] = result
        journal.state.in_flight = None
        journal.save()

    def _import_batch(self, batch: Batch, journal: _Journal, errors: ErrorsFile) -> BatchResult:
        state = journal.state
        in_flight = state.in_flight
        if in_flight is None or in_flight.batch != batch.number:
            # Recorded before the POST: after a crash, the re-run sends the same key and body.
            in_flight = InFlight(
                batch.number,
                idempotency_key(journal.fingerprint, batch.number),
                self._webhook_url(),
            )
            state.in_flight = in_flight
            journal.save()
        if in_flight.import_id is None:
            accepted = self.client.create_import(
                batch.contacts,
                audience_id=self.options.audience_id,
                webhook_url=in_flight.webhook_url,
                idempotency_key=in_flight.idempotency_key,
            )
            if accepted.total != len(batch.rows):
                raise BatchImportError(
                    f"Batch {batch.number}: the API counted {accepted.total} contacts, the file "
                    f"{len(batch.rows)}.",
                    ExitCode.API_ERROR,
                )
            in_flight.import_id = accepted.import_id
            journal.save()
        import_id = in_flight.import_id
        self.reporter.batch_posted(batch, import_id)
        status = self._wait(import_id)
        row_errors = self.client.all_errors(import_id) if status.error_count else []
        state.errors_bytes = errors.write(batch, import_id, row_errors)
        return BatchResult(
            batch=batch.number,
            first_row=batch.first_row,
            last_row=batch.last_row,
            import_id=import_id,
            status=status.status,
            total=status.total,
            created=status.created,
            updated=status.updated,
            failed=status.failed,
            error_count=status.error_count,
        )

    # -- waiting ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        if self.options.wait_mode is not WaitMode.WEBHOOK:
            yield
            return
        assert self.options.webhook_secret is not None  # validate() checked
        try:
            receiver = CompletionReceiver(
                self.options.webhook_secret, self.options.listen_host, self.options.listen_port
            )
        except OSError as exc:
            raise BatchImportError(
                f"Cannot listen on {self.options.listen_host}:{self.options.listen_port} for "
                f"webhooks: {exc}",
                ExitCode.BAD_INPUT,
            ) from None
        with receiver:
            self._receiver = receiver
            self.reporter.note(f"Waiting for import.completed webhooks at {receiver.url}")
            try:
                yield
            finally:
                self._receiver = None

    def _webhook_url(self) -> str | None:
        if self._receiver is not None and self.options.webhook_url is None:
            return self._receiver.url
        return self.options.webhook_url

    def _wait(self, import_id: str) -> ImportStatusView:
        if self._receiver is None:
            return self.client.wait(
                import_id, timeout_s=self.options.batch_timeout_s, poll=self.poll
            )
        # Webhook mode: the signed import.completed wakes us; a status poll every
        # `webhook_fallback_poll_s` covers a webhook that is late, refused or lost.
        deadline = time.monotonic() + self.options.batch_timeout_s
        status: ImportStatusView | None = None
        while True:
            remaining = deadline - time.monotonic()
            woken = self._receiver.wait_for(
                import_id, min(self.options.webhook_fallback_poll_s, max(remaining, 0.0))
            )
            status = self.client.get_status(import_id)
            if status.status in TERMINAL:
                self._webhook_wakeups += woken
                return status
            if time.monotonic() >= deadline:
                raise WaitTimeout(import_id, self.options.batch_timeout_s, status)

    # -- the dry run -----------------------------------------------------------------------

    def dry_run(self) -> DryRunSummary:
        started = time.monotonic()
        file_format, scan = self._prepare()
        path = self.options.path
        rows = estimated_rows(path, file_format, scan)
        size = self.options.batch_size
        self.reporter.started(
            Plan(path, rows, None if rows is None else max(1, -(-rows // size)), size, 0, True)
        )
        summary = DryRunSummary(
            path=path,
            batches=0,
            total=0,
            valid=0,
            failed=0,
            error_count=0,
            by_code=Counter(),
            sample=[],
            errors_path=errors_path(path, dry_run=True),
            elapsed_s=0.0,
        )
        errors = ErrorsFile(summary.errors_path)
        errors.open(None)
        try:
            for batch in self._batches(file_format):
                report = self.client.dry_run(
                    batch.contacts,
                    audience_id=self.options.audience_id,
                    webhook_url=self.options.webhook_url,
                )
                errors.write(batch, "", report.errors)
                summary.batches += 1
                summary.total += report.total
                summary.valid += report.valid
                summary.failed += report.failed
                summary.error_count += report.error_count
                summary.by_code.update((error.field, error.code) for error in report.errors)
                for error in report.errors[: max(0, 20 - len(summary.sample))]:
                    summary.sample.append((batch.rows[error.row_index].row_number, error))
                self.reporter.batch_done(batch, None)
            if not summary.batches:
                raise BatchImportError(f"{path.name} has no contacts.", ExitCode.BAD_INPUT)
        except ApiError as exc:
            raise BatchImportError(_api_error_message(exc), ExitCode.API_ERROR) from None
        finally:
            errors.close()
            self.reporter.finished()
        summary.elapsed_s = time.monotonic() - started
        return summary


def _api_error_message(exc: ApiError) -> str:
    hints = {
        401: " Check --api-key (or OLIAI_API_KEY).",
        422: " The request was refused as a whole; nothing was created for this batch.",
        429: " Rate limited for too long; re-run the same command later to continue.",
        503: " The service stayed unavailable; re-run the same command later to continue.",
    }
    return f"The API answered {exc.status} ({exc.slug}): {exc.detail}.{hints.get(exc.status, '')}"
