"""`<file>.oliai-errors.csv`: the row errors of every batch, with the row numbers of the original
file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from client.batch.source import Batch
from client.schemas import RowError
from client.spreadsheet_safety import spreadsheet_safe

ERRORS_HEADER = ("row", "field", "code", "message", "value", "batch", "import_id", "row_index")


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
