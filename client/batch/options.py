"""What `oliai import` is asked to do (`BatchImportOptions`), how it ends (`ExitCode`,
`BatchImportError`) and where it keeps its files next to the input."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from client.contact_files import ContactFileError, FileFormat, check_encoding
from client.schemas import MAX_CONTACTS
from core.contracts.import_options import ApplyOptions

DEFAULT_BATCH_SIZE = 5_000
# Batches posted and not finished yet: the next ones wait in the run queue instead of behind the
# client's status polls (an organization's imports still run one at a time, in order).
DEFAULT_IN_FLIGHT = 4
MAX_IN_FLIGHT = 32


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
    in_flight: int = DEFAULT_IN_FLIGHT
    audience_id: str | None = None
    # Sent with every batch: how the API applies the rows.
    apply: ApplyOptions = field(default_factory=ApplyOptions)
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
    encoding: str | None = None  # a CSV's; None: detected (client.contact_files)

    def validate(self) -> None:
        if not 1 <= self.batch_size <= MAX_CONTACTS:
            raise BatchImportError(
                f"--batch-size must be between 1 and {MAX_CONTACTS:,} (the API's limit per "
                f"request), not {self.batch_size}.",
                ExitCode.BAD_INPUT,
            )
        if not 1 <= self.in_flight <= MAX_IN_FLIGHT:
            raise BatchImportError(
                f"--in-flight must be between 1 and {MAX_IN_FLIGHT}, not {self.in_flight}.",
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
        if self.encoding is not None:
            try:
                check_encoding(self.encoding)
            except ContactFileError as exc:
                raise BatchImportError(f"--encoding: {exc}", ExitCode.BAD_INPUT) from None


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".oliai-checkpoint.json")


def errors_path(path: Path, *, dry_run: bool = False) -> Path:
    return path.with_name(
        path.name + (".oliai-dry-run-errors.csv" if dry_run else ".oliai-errors.csv")
    )
