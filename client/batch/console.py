"""`oliai import` on a terminal: the progress bar, retry notices and the summary tables (rich).

The logic is in the rest of `client.batch`; this module only draws it. Progress and notices go to
stderr, the summary (or `--json`) to stdout.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from client.batch.checkpoint import BatchResult
from client.batch.options import BatchImportError, BatchImportOptions, ExitCode
from client.batch.reporter import DryRunSummary, Plan, RunSummary
from client.batch.runner import BatchImporter
from client.batch.source import Batch
from client.errors import RetryNotice
from client.imports_client import ImportsClient

MAX_TABLE_BATCHES = 100


class _RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        total = f"{int(task.total):,}" if task.total is not None else "?"
        return Text(f"{int(task.completed):,}/{total} rows")


class _BatchesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        total = task.fields.get("batches_total")
        return Text(f"batch {task.fields.get('batches_done', 0)}/{total or '?'}")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "- rows/s")


class RichReporter:
    """Draws a run on stderr; without a terminal, one line per batch instead of a live bar."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _RowsColumn(),
            _BatchesColumn(),
            _RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task: Any = None
        self._skipped_rows = 0
        self._resuming = False
        # When each batch in flight was posted (its line shows posted → finished).
        self._posted_at: dict[int, float] = {}

    def started(self, plan: Plan) -> None:
        verb = "Checking" if plan.dry_run else "Importing"
        if plan.resumed_batches:
            self.note(
                f"Resuming {plan.path.name}: {plan.resumed_batches} batch(es) finished earlier "
                "are skipped."
            )
        self._resuming = plan.resumed_batches > 0
        self.progress.start()
        self._task = self.progress.add_task(
            f"{verb} {plan.path.name}",
            total=plan.estimated_rows,
            batches_total=plan.estimated_batches,
            batches_done=0,
        )

    def batch_posted(self, batch: Batch, import_id: str) -> None:
        self._posted_at[batch.number] = time.monotonic()
        if self._resuming:
            # Finished batches went by without work: restart the clock so rate and ETA are real.
            self._resuming = False
            self.progress.reset(self._task, completed=self._skipped_rows)

    def batch_done(self, batch: Batch, result: BatchResult | None) -> None:
        rows = len(batch.rows)
        if result is not None and result.resumed:
            self._skipped_rows += rows
            self.progress.update(self._task, completed=self._skipped_rows)
        else:
            self.progress.advance(self._task, rows)
        task = self.progress.tasks[0]
        if task.total is not None and task.completed > task.total:
            self.progress.update(self._task, total=task.completed)
        self.progress.update(self._task, batches_done=batch.number)
        if not self.console.is_terminal and not (result and result.resumed):
            self._log_batch(batch, result)

    def _log_batch(self, batch: Batch, result: BatchResult | None) -> None:
        posted_at = self._posted_at.pop(batch.number, None)
        seconds = time.monotonic() - posted_at if posted_at is not None else 0.0
        if result is None:
            self.console.print(f"batch {batch.number}: {len(batch.rows):,} rows checked")
            return
        self.console.print(
            f"batch {batch.number}: {result.status} {result.total:,} rows (created "
            f"{result.created:,}, updated {result.updated:,}, skipped {result.skipped:,}, failed "
            f"{result.failed:,}) "
            f"{result.import_id} {seconds:.1f} s",
            highlight=False,
        )

    def retry(self, notice: RetryNotice) -> None:
        self.console.print(
            f"[yellow]{notice.reason}[/] on {notice.method} {notice.path}: retrying in "
            f"{notice.wait_s:.1f} s (attempt {notice.attempt + 1})",
            highlight=False,
        )

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False)

    def finished(self) -> None:
        if self._task is not None:
            task = self.progress.tasks[0]
            self.progress.update(self._task, total=task.completed)
        self.progress.stop()


def _count(value: int) -> str:
    return f"{value:,}"


def summary_table(summary: RunSummary) -> Table:
    table = Table(title=f"oliai import {summary.path.name}", show_footer=True)
    totals = summary.totals
    columns = [
        ("Batch", "Total", "right"),
        ("Rows", "", "left"),
        ("Import", "", "left"),
        ("Status", "", "left"),
        ("Contacts", _count(totals["total"]), "right"),
        ("Created", _count(totals["created"]), "right"),
        ("Updated", _count(totals["updated"]), "right"),
        ("Skipped", _count(totals["skipped"]), "right"),
        ("Failed", _count(totals["failed"]), "right"),
        ("Row errors", _count(totals["error_count"]), "right"),
    ]
    for header, footer, justify in columns:
        table.add_column(header, footer=footer, justify=justify)  # type: ignore[arg-type]
    shown = summary.batches
    if len(shown) > MAX_TABLE_BATCHES:
        shown = [result for result in shown if result.status != "COMPLETED"]
        table.caption = (
            f"{len(summary.batches) - len(shown):,} COMPLETED batches not listed; all are in "
            f"{summary.checkpoint_path.name}"
        )
    for result in shown:
        style = {"COMPLETED": "green", "FAILED": "red"}.get(result.status, "yellow")
        table.add_row(
            str(result.batch) + (" (earlier)" if result.resumed else ""),
            f"{result.first_row}-{result.last_row}",
            result.import_id,
            Text(result.status, style=style),
            _count(result.total),
            _count(result.created),
            _count(result.updated),
            _count(result.skipped),
            _count(result.failed),
            _count(result.error_count),
        )
    return table


def print_summary(summary: RunSummary, out: Console, err: Console) -> None:
    if summary.already_done:
        err.print(
            f"{summary.path.name} was already imported with these options (see "
            f"{summary.checkpoint_path.name}); nothing was sent. Delete the checkpoint to import "
            "it again."
        )
    if summary.batches:
        out.print(summary_table(summary))
    totals = summary.totals
    if totals["error_count"]:
        out.print(f"Row errors: {summary.errors_path} ({totals['error_count']:,})", highlight=False)
    if summary.rows_this_run:
        out.print(
            f"{summary.rows_this_run:,} rows in {summary.elapsed_s:.1f} s "
            f"({summary.rows_per_s:,.0f} rows/s)",
            highlight=False,
        )
    if summary.stopped is not None:
        err.print(f"[red]Stopped:[/] {summary.stopped}", highlight=False)
        if summary.stopped.exit_code != ExitCode.BAD_INPUT:
            err.print(
                "Finished batches are kept in the checkpoint: re-run the same command to continue.",
                highlight=False,
            )


def print_dry_run(summary: DryRunSummary, out: Console) -> None:
    totals = Table(title=f"oliai import --dry-run {summary.path.name}")
    columns = {
        "Contacts": summary.total,
        "Valid": summary.valid,
        "Would create": summary.created,
        "Would update": summary.updated,
        "Would skip": summary.skipped,
        "Would fail": summary.failed,
        "Row errors": summary.error_count,
        "Batches": summary.batches,
    }
    for header in columns:
        totals.add_column(header, justify="right")
    totals.add_row(*(_count(value) for value in columns.values()))
    out.print(totals)
    if summary.by_code:
        codes = Table(title="Row errors by field and code")
        for header, justify in (("Field", "left"), ("Code", "left"), ("Count", "right")):
            codes.add_column(header, justify=justify)  # type: ignore[arg-type]
        for (field_name, code), count in summary.by_code.most_common():
            codes.add_row(field_name, code, _count(count))
        out.print(codes)
        sample = Table(title=f"First {len(summary.sample)} row errors")
        for header in ("Row", "Field", "Code", "Message", "Value"):
            sample.add_column(header)
        for row_number, error in summary.sample:
            sample.add_row(
                str(row_number), error.field, error.code, error.message, error.value or ""
            )
        out.print(sample)
        out.print(f"All row errors: {summary.errors_path}", highlight=False)
    out.print(
        "Nothing was imported. Each batch was judged against the contacts stored now: a number "
        "repeated in a later batch counts as created in each.",
        highlight=False,
    )


def import_command(
    options: BatchImportOptions, *, api_url: str, api_key: str, dry_run: bool, as_json: bool
) -> int:
    """Runs `oliai import`; returns the exit code."""
    out, err = Console(), Console(stderr=True)
    # Without a terminal (logs, pipes) rich assumes 80 columns: too narrow for the tables.
    out = out if out.is_terminal else Console(width=160)
    err = err if err.is_terminal else Console(stderr=True, width=160)
    reporter = RichReporter(err)
    try:
        with ImportsClient(api_url, api_key, on_retry=reporter.retry) as client:
            importer = BatchImporter(client, options, reporter)
            if dry_run:
                checked = importer.dry_run()
                if as_json:
                    print(json.dumps(checked.to_json()))
                else:
                    print_dry_run(checked, out)
                return checked.exit_code
            summary = importer.run()
    except BatchImportError as exc:
        err.print(f"[red]Error:[/] {exc}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        reporter.finished()
        err.print(
            "Interrupted. Finished batches are kept in the checkpoint: re-run the same command "
            "to continue."
        )
        return ExitCode.INTERRUPTED
    if as_json:
        print(json.dumps(summary.to_json()))
        if summary.stopped is not None:
            err.print(f"[red]Stopped:[/] {summary.stopped}", highlight=False)
    else:
        print_summary(summary, out, err)
    return summary.exit_code
