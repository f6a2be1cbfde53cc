"""The input file: one pass for its digest and line count, its rows in batches, and the
fingerprint and Idempotency-Keys that make a re-run send the same batches under the same keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.batch.options import BatchImportOptions
from client.contact_files import FileFormat, SourceRow


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


# Part of every fingerprint, hence of every Idempotency-Key: changing it makes a re-run of an
# interrupted import send its batches again as new imports. Checkpoint format versions are not.
FINGERPRINT_VERSION = 1


def fingerprint(options: BatchImportOptions, scan: FileScan, client_identity: str) -> str:
    """Same file content, same batching options, same API and key → same fingerprint, so the
    same checkpoint entry and the same Idempotency-Keys."""
    parts = {
        "version": FINGERPRINT_VERSION,
        "digest": scan.digest,
        "size": scan.size,
        "batchSize": options.batch_size,
        "audienceId": options.audience_id,
        "webhookUrl": options.webhook_url,
        "format": options.file_format,
        "api": client_identity,
        # Only options not at their default: fingerprints of runs without them stay the same.
        **options.apply.wire_fields(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def idempotency_key(run_fingerprint: str, batch_number: int) -> str:
    digest = hashlib.sha256(f"{run_fingerprint}:{batch_number}".encode()).hexdigest()
    return f"oliai-batch-{digest[:40]}"
