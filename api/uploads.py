"""File imports from the Contacts UI: a multipart upload → the bulk endpoint's body → the same
`ImportService.accept_bulk` path, with the file limits (100,000 rows, 50 MiB) instead of 10,000.

The file is read by `client.contact_files` (CSV with `,` `;` or tab, in UTF-8, UTF-16 or a
detected Windows code page; `.xlsx`; a JSON array or NDJSON; header aliases or an explicit column
mapping, extra columns → metadata). The Contacts UI's preview (api/controllers/ui_preview.py)
imports a stored draft through `import_file`, the same path as the direct upload. Contact `i` of the
import (its `row_index`) is the file's i-th non-empty data row; the file row it came from is
kept as a run-length `row_map` in the control store, so the UI can show both.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import anyio
import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from api.errors import FileTooLarge, InvalidFile, UnsupportedFileType
from api.problems import Problem
from api.schemas import MAX_FILE_CONTACTS, ImportAccepted
from api.services import ImportService
from client.contact_files import (
    SUFFIXES,
    ColumnMapping,
    ContactFileError,
    FileFormat,
    detect_encoding,
    detect_format,
    read_contacts,
)
from core.control_store import ControlStore

MIB = 1024 * 1024
MAX_FILE_BYTES = 50 * MIB
# The multipart request around the file: its framing and the two small text fields.
MAX_UPLOAD_REQUEST_BYTES = MAX_FILE_BYTES + MIB
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]]+")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsedFile:
    file_name: str
    file_format: FileFormat
    contacts: list[dict[str, Any]]
    row_numbers: list[int]
    encoding: str | None = None  # a CSV's, as read


def safe_file_name(name: str) -> str:
    """The uploaded name without directories or odd characters, suffix kept (for messages)."""
    base = _UNSAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .") or "upload"
    suffix = Path(base).suffix
    return base[: 200 - len(suffix)] + suffix if len(base) > 200 else base


def parse_contacts_file(
    path: Path,
    *,
    max_rows: int = MAX_FILE_CONTACTS,
    max_bytes: int = MAX_FILE_BYTES,
    encoding: str | None = None,
    mapping: ColumnMapping | None = None,
) -> ParsedFile:
    """Every contact of the file with its file row; raises `UnsupportedFileType`, `InvalidFile`
    or `FileTooLarge` with a detail that says what to fix. `encoding` (a CSV's) and `mapping`
    override detection and the header aliases (`client.contact_files.read_contacts`)."""
    file_format = checked_file(path, max_bytes)
    contacts: list[dict[str, Any]] = []
    row_numbers: list[int] = []
    try:
        if file_format is FileFormat.CSV:
            encoding = encoding or detect_encoding(path)
        rows = read_contacts(path, file_format, encoding=encoding, mapping=mapping)
        for row_number, contact in rows:
            if len(contacts) == max_rows:
                raise FileTooLarge(
                    f"{path.name} has more than {max_rows:,} contacts; split it into files of "
                    f"at most {max_rows:,} rows, or use `oliai import` for larger files."
                )
            contacts.append(contact)
            row_numbers.append(row_number)
    except ContactFileError as exc:
        raise InvalidFile(str(exc)) from None
    except FileTooLarge:
        raise
    except Exception as exc:  # a parser's surprise on untrusted bytes: still the file's fault
        log.warning("cannot read uploaded %s: %r", path.name, exc)
        raise InvalidFile(
            f"{path.name}: not a readable {file_format.value.upper()} file ({type(exc).__name__})."
        ) from None
    if not contacts:
        raise InvalidFile(f"{path.name}: the file has a header but no contacts.")
    return ParsedFile(path.name, file_format, contacts, row_numbers, encoding)


def checked_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> FileFormat:
    """The file's format by its extension, once it is known to be neither empty nor too large;
    raises `UnsupportedFileType`, `InvalidFile` or `FileTooLarge`."""
    try:
        file_format = detect_format(path)
    except ContactFileError:
        known = ", ".join(sorted(SUFFIXES))
        raise UnsupportedFileType(
            f"{path.name}: {path.suffix or 'no extension'} files cannot be imported; upload a "
            f"CSV, Excel (.xlsx) or JSON file ({known}).",
        ) from None
    size = path.stat().st_size
    if size == 0:
        raise InvalidFile(f"{path.name}: the file is empty.")
    if size > max_bytes:
        raise FileTooLarge(
            f"{path.name} is {size / MIB:.1f} MiB; files are limited to {max_bytes // MIB} MiB. "
            "Split it, or use `oliai import` for larger files."
        )
    return file_format


def row_map(row_numbers: list[int]) -> list[list[int]]:
    """Runs `[first_index, first_row, length]` of consecutive file rows."""
    runs: list[list[int]] = []
    for index, row in enumerate(row_numbers):
        if runs and runs[-1][1] + runs[-1][2] == row and runs[-1][0] + runs[-1][2] == index:
            runs[-1][2] += 1
        else:
            runs.append([index, row, 1])
    return runs


def file_row(runs: list[list[int]], row_index: int) -> int | None:
    """The file row of contact `row_index` (None if out of range)."""
    for first_index, first_row, length in runs:
        if first_index <= row_index < first_index + length:
            return first_row + row_index - first_index
    return None


def bulk_body(parsed: ParsedFile, fields: dict[str, Any]) -> bytes:
    """The bulk endpoint's JSON body for a file's contacts and the form's options (audienceId,
    webhookUrl, defaultCountry, mode; empty ones left out)."""
    body = {"contacts": parsed.contacts, **{k: v for k, v in fields.items() if v}}
    return msgspec.json.encode(body)


def import_parsed(
    parsed: ParsedFile,
    fields: dict[str, Any],
    *,
    org_id: str,
    user_id: str,
    import_service: ImportService,
    store: ControlStore,
) -> ImportAccepted:
    """One import of the file through the bulk path (the file limit), its row map recorded."""
    accepted = import_service.accept_bulk(
        org_id, bulk_body(parsed, fields), None, max_contacts=MAX_FILE_CONTACTS
    )
    store.users.record_upload(
        import_id=accepted.import_id,
        org_id=org_id,
        user_id=user_id,
        file_name=parsed.file_name,
        file_format=parsed.file_format.value,
        row_map=row_map(parsed.row_numbers),
    )
    return accepted


def copy_limited(source: IO[bytes], target: Path, limit: int, name: str) -> None:
    copied = 0
    with open(target, "wb") as out:
        while chunk := source.read(MIB):
            copied += len(chunk)
            if copied > limit:
                raise FileTooLarge(f"{name} is larger than {limit // MIB} MiB, the limit per file.")
            out.write(chunk)


def text_field(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value).strip() or None


def import_options(form: Any) -> dict[str, Any]:
    """The bulk body's options as a form sends them (None: not given)."""
    return {
        "audienceId": text_field(form, "audienceId"),
        "webhookUrl": text_field(form, "webhookUrl"),
        # People type `in`; the bulk body takes ISO's uppercase.
        "defaultCountry": (text_field(form, "defaultCountry") or "").upper() or None,
        "mode": text_field(form, "mode"),
    }


async def accept_upload(
    request: Request[Any, Any, Any],
    *,
    org_id: str,
    user_id: str,
    import_service: ImportService,
    store: ControlStore,
) -> ImportAccepted:
    """Read the multipart form (`file`, optional `audienceId`, `webhookUrl`, `defaultCountry`,
    `mode`) and accept it as one import through the bulk path. Problems: 400, 413, 415, 422, 503."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_REQUEST_BYTES:
        raise FileTooLarge(
            f"The upload is larger than {MAX_FILE_BYTES // MIB} MiB, the file limit."
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the file as multipart/form-data in a field named `file`.",
        )
    form = await request.form()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Problem(
                400, "bad-request", "No file", "Choose a file: the form field `file` is missing."
            )
        fields = import_options(form)
        name = safe_file_name(upload.filename)

        def accept() -> ImportAccepted:
            with tempfile.TemporaryDirectory(prefix="oliai-upload-") as directory:
                path = Path(directory) / name
                upload.file.seek(0)
                copy_limited(upload.file, path, MAX_FILE_BYTES, name)
                parsed = parse_contacts_file(path)
            return import_parsed(
                parsed,
                fields,
                org_id=org_id,
                user_id=user_id,
                import_service=import_service,
                store=store,
            )

        return await anyio.to_thread.run_sync(accept)
    finally:
        await form.close()
