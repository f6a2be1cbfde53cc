"""`BatchImporter`: one file through the API, batch after batch (`run`), or checked batch by batch
without importing anything (`dry_run`). The package docstring (`client.batch`) says how."""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from collections.abc import Iterator

from client.batch.checkpoint import (
    BatchResult,
    Checkpoint,
    InFlight,
    Journal,
    RunState,
    utc_now,
)
from client.batch.errors_file import ErrorsFile
from client.batch.options import (
    BatchImportError,
    BatchImportOptions,
    ExitCode,
    WaitMode,
    checkpoint_path,
    errors_path,
)
from client.batch.receiver import CompletionReceiver
from client.batch.reporter import DryRunSummary, Plan, Reporter, RunSummary, SilentReporter
from client.batch.source import (
    Batch,
    FileScan,
    batches,
    estimated_rows,
    fingerprint,
    idempotency_key,
    scan_file,
)
from client.contact_files import ContactFileError, FileFormat, detect_format, read_contacts
from client.errors import ApiError, WaitTimeout
from client.imports_client import ImportsClient
from client.policies import PollPolicy
from client.schemas import ImportStatusView
from core.contracts.status import TERMINAL


class BatchImporter:
    """Runs one file through the API; see the package docstring (`client.batch`)."""

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
                read_contacts(self.options.path, file_format, encoding=self.options.encoding),
                self.options.batch_size,
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
                state = RunState(path.name, self.options.batch_size, utc_now())
            journal = Journal(checkpoint, run_fingerprint, state)
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
        self, file_format: FileFormat, scan: FileScan, journal: Journal, summary: RunSummary
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
                # Posted, oldest first. Batches finish in the order they were accepted (one
                # organization's imports run one at a time), so waiting for the oldest first
                # keeps the errors file and the checkpoint in batch order.
                posted: deque[tuple[Batch, str]] = deque()
                for batch in self._batches(file_format):
                    result = state.finished.get(batch.number)
                    if result is not None:
                        if not errors_intact and result.error_count:
                            row_errors = self.client.all_errors(result.import_id)
                            state.errors_bytes = errors.write(batch, result.import_id, row_errors)
                        summary.batches.append(result)
                        self.reporter.batch_done(batch, result)
                        continue
                    posted.append((batch, self._post_batch(batch, journal)))
                    if len(posted) >= self.options.in_flight:
                        self._settle(*posted.popleft(), journal, errors, summary)
                while posted:
                    self._settle(*posted.popleft(), journal, errors, summary)
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

    def _settle(
        self,
        batch: Batch,
        import_id: str,
        journal: Journal,
        errors: ErrorsFile,
        summary: RunSummary,
    ) -> None:
        """Wait for a posted batch to end, write its row errors and record it as finished; or
        stop at a FAILED one. A stopped batch stays in flight, as do the later ones already
        posted: a re-run looks at the same imports again (one may have been re-executed)."""
        status = self._wait(import_id)
        row_errors = self.client.all_errors(import_id) if status.error_count else []
        journal.state.errors_bytes = errors.write(batch, import_id, row_errors)
        result = BatchResult(
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
            skipped=status.skipped,
        )
        summary.rows_this_run += len(batch.rows)
        summary.batches.append(result)
        if result.status == "FAILED" and not self.options.continue_on_error:
            later = len(journal.state.in_flight) - 1
            raise BatchImportError(
                f"Batch {result.batch} (rows {result.first_row} to {result.last_row}, import "
                f"{result.import_id}) FAILED: {result.failed:,} of {result.total:,} rows failed, "
                f"{result.error_count:,} row errors (in {errors_path(self.options.path).name}). "
                + (
                    "Every row broke a row rule: fix the file, or pass --continue-on-error."
                    if result.error_count
                    else "The import's run failed: re-execute it in the Dagster UI and re-run "
                    "this command, or pass --continue-on-error."
                )
                + (
                    f" {later} later batch(es) were already sent and are imported anyway; a re-run "
                    "picks them up without sending them again."
                    if later
                    else ""
                ),
                ExitCode.BATCH_FAILED,
            )
        journal.state.finished[result.batch] = result
        del journal.state.in_flight[result.batch]
        journal.save()
        self.reporter.batch_done(batch, result)

    def _post_batch(self, batch: Batch, journal: Journal) -> str:
        """POST the batch (or find the import an earlier run posted); returns its import id."""
        state = journal.state
        in_flight = state.in_flight.get(batch.number)
        if in_flight is None:
            # Recorded before the POST: after a crash, the re-run sends the same key and body.
            in_flight = InFlight(
                batch.number,
                idempotency_key(journal.fingerprint, batch.number),
                self._webhook_url(),
            )
            state.in_flight[batch.number] = in_flight
            journal.save()
        if in_flight.import_id is None:
            accepted = self.client.create_import(
                batch.contacts,
                audience_id=self.options.audience_id,
                webhook_url=in_flight.webhook_url,
                options=self.options.apply,
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
        self.reporter.batch_posted(batch, in_flight.import_id)
        return in_flight.import_id

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
            created=0,
            updated=0,
            skipped=0,
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
                    options=self.options.apply,
                )
                errors.write(batch, "", report.errors)
                summary.batches += 1
                summary.total += report.total
                summary.valid += report.valid
                summary.failed += report.failed
                summary.error_count += report.error_count
                summary.created += report.created
                summary.updated += report.updated
                summary.skipped += report.skipped
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
