"""Contacts files (CSV, NDJSON, JSON array, .xlsx) streamed as contact dicts with row numbers.

Every reader is a generator that holds one row at a time, so a 5 GB CSV costs no more memory than
a small one. Each row comes with the number a person finds it under in the original file (see
`SourceRow`) and a contact dict in the bulk endpoint's shape: header names (or JSON keys) are
matched case-insensitively against `HEADER_ALIASES`; every other column is kept, under its own
name, for the contact's metadata.

A CSV's encoding: a BOM decides (UTF-8, UTF-16 LE/BE); else a file that is valid UTF-8 is UTF-8;
else charset-normalizer picks among the Windows code pages Excel writes, preferring Windows-1252
when it ties (`detect_encoding`; docs/batch-import.md#encodings says why). A caller may name the
encoding instead, and may map header names to fields explicitly (`ColumnTarget`), overriding the
alias guess.

Pure standard library plus `ijson`, `openpyxl` and `charset-normalizer`: no litestar, no dagster,
no CLI. The command line (`oliai import`) and the Contacts UI share these readers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple

import msgspec

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")
# A BOM names its encoding; Python's `utf-16` codec reads either byte order and drops the BOM.
BOMS: tuple[tuple[bytes, str], ...] = (
    (BOM, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# The code pages Excel writes a "CSV" in (Windows' ANSI code pages). Latin-1 is read as
# Windows-1252, as the WHATWG Encoding Standard does: they agree on every printable character.
CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257")
PREFERRED_CODE_PAGE = "cp1252"
ENCODING_NAMES: dict[str, str] = {
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252 (Western European, Latin-1)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)",
    "cp1257": "Windows-1257 (Baltic)",
}
_CHUNK = 1024 * 1024
_SAMPLE = 256 * 1024  # what charset-normalizer judges: around the first byte UTF-8 rejects


class FileFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"
    JSON = "json"
    XLSX = "xlsx"


SUFFIXES: dict[str, FileFormat] = {
    ".csv": FileFormat.CSV,
    ".tsv": FileFormat.CSV,
    ".txt": FileFormat.CSV,
    ".ndjson": FileFormat.NDJSON,
    ".jsonl": FileFormat.NDJSON,
    ".json": FileFormat.JSON,  # an array, or one object per line: decided by the first byte
    ".xlsx": FileFormat.XLSX,
    ".xlsm": FileFormat.XLSX,
}

# Canonical field → the header names that mean it. Matching ignores case and treats runs of
# spaces, `_` and `-` alike, so `Phone Number`, `phone_number` and `PHONE-NUMBER` are one name.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "phoneNumber": ("phoneNumber", "phone", "phone_number", "Phone Number", "mobile"),
    "name": ("name", "full name", "Name"),
    "language": ("language", "lang", "locale"),
}
REQUIRED_FIELDS = ("name", "phoneNumber")
_SEPARATORS = re.compile(r"[\s_\-]+")


def header_key(header: str) -> str:
    """The form headers are compared in: trimmed, lowercase, separators folded to one space."""
    return _SEPARATORS.sub(" ", header.strip()).lower()


_CANONICAL: dict[str, str] = {
    header_key(alias): field for field, aliases in HEADER_ALIASES.items() for alias in aliases
}


class ContactFileError(ValueError):
    """The file cannot be read as contacts; the message says where and what to change."""


class ColumnTarget(StrEnum):
    """Where an explicitly mapped column goes (`read_contacts(mapping=...)`)."""

    NAME = "name"
    PHONE_NUMBER = "phoneNumber"
    LANGUAGE = "language"
    METADATA = "metadata"  # kept, under the column's own name
    DROP = "drop"


ColumnMapping = Mapping[str, ColumnTarget]


class SourceRow(NamedTuple):
    """One contact and where it is in the original file.

    `row_number` is 1-based and means: for CSV, the line the record starts on (the header is
    line 1); for NDJSON, the line; for a JSON array, the item's position in the array; for
    .xlsx, the sheet's row number (the header is row 1).
    """

    row_number: int
    contact: dict[str, Any]


def canonical_name(header: str) -> str:
    """`phoneNumber`, `name` or `language` for a known alias; otherwise the header, trimmed."""
    return _CANONICAL.get(header_key(header), header.strip())


def detect_format(path: Path) -> FileFormat:
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(SUFFIXES))
        raise ContactFileError(
            f"{path.name}: unknown file type {path.suffix or '(no extension)'!r}; "
            f"use one of {known}."
        ) from None


def read_contacts(
    path: Path,
    file_format: FileFormat | None = None,
    *,
    encoding: str | None = None,
    mapping: ColumnMapping | None = None,
) -> Iterator[SourceRow]:
    """Every contact of the file, in file order, one at a time. Raises `ContactFileError`.

    `encoding` (a CSV's; a Python codec name) skips detection; `mapping` (header name as in the
    file → `ColumnTarget`) overrides the alias guess for the columns it names."""
    path = Path(path)
    file_format = file_format or detect_format(path)
    if file_format is FileFormat.CSV:
        return _read_csv(path, encoding, mapping)
    if file_format is FileFormat.XLSX:
        return _read_xlsx(path, mapping)
    if file_format is FileFormat.NDJSON:
        return _canonical_objects(path, _read_ndjson(path), mapping)
    return _canonical_objects(path, _read_json(path), mapping)


# -------------------------------------------------------------------------------------- encoding


def encoding_name(encoding: str) -> str:
    """The encoding as people know it ("Windows-1252 (Western European, Latin-1)")."""
    return ENCODING_NAMES.get(encoding, encoding)


def check_encoding(encoding: str) -> str:
    """A codec name Python knows, normalized (`latin-1` → `latin_1`); raises otherwise."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ContactFileError(
            f"unknown encoding {encoding!r}; use e.g. utf-8, utf-16, cp1252 or cp1250."
        ) from None


def detect_encoding(path: Path) -> str:
    """A CSV's encoding: its BOM's; else `utf-8` if every byte is valid UTF-8; else the Windows
    code page charset-normalizer finds (Windows-1252 when it ties, see `_code_page`). A pipe
    cannot be read twice: it is UTF-8 (a UTF-8 BOM is dropped) unless the caller names one."""
    if not path.is_file():
        return "utf-8"
    with open(path, "rb") as file:
        head = file.read(_SAMPLE)
        for bom, encoding in BOMS:
            if head.startswith(bom):
                return encoding
        first_invalid = _first_invalid_utf8(file, head)
        if first_invalid is None:
            return "utf-8"
        file.seek(max(0, first_invalid - _SAMPLE // 2))
        sample = file.read(_SAMPLE)
    return _code_page(path, sample)


def _first_invalid_utf8(file: BinaryIO, head: bytes) -> int | None:
    """The offset of about the first byte that is not UTF-8 (None: all of it is), reading on
    from `head` in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, chunk = 0, head
    try:
        while chunk:
            decoder.decode(chunk)
            offset += len(chunk)
            chunk = file.read(_CHUNK)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + exc.start
    return None


def _code_page(path: Path, sample: bytes) -> str:
    """The code page of `sample`. Single-byte code pages cannot be told apart from the bytes
    alone: on short Western texts charset-normalizer finds no "chaos" (mess) in Windows-1252,
    -1250 or -1257 and ranks -1250 first by its language coherence, which garbles ñ and ç. Of
    the least chaotic we therefore take Windows-1252, the code page of Excel in Western Europe
    and the Americas; another wins only with less chaos (Cyrillic, Greek), or when named."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample, cp_isolation=list(CODE_PAGES)))
    if not matches:
        raise ContactFileError(
            f"{path.name}: not UTF-8 and not text in a Windows code page; save it as UTF-8 "
            "(Excel: CSV UTF-8)."
        )
    least = min(match.chaos for match in matches)
    # A match stands for every code page that decodes the sample to the same text.
    tied = [
        encoding
        for match in matches
        if match.chaos == least
        for encoding in [match.encoding, *match.could_be_from_charset]
    ]
    return PREFERRED_CODE_PAGE if PREFERRED_CODE_PAGE in tied else tied[0]


# ---------------------------------------------------------------------------------------- headers


@dataclass(frozen=True)
class HeaderMap:
    """A header row's keys (None: an unnamed column, whose values are refused) and the indexes
    of columns mapped to `drop` (whose values are ignored)."""

    keys: list[str | None]
    dropped: frozenset[int] = frozenset()


def _mapped_key(text: str, target: ColumnTarget | None, where: str) -> str:
    if target is None:
        return canonical_name(text)
    if target is not ColumnTarget.METADATA:
        return target.value
    if text in _KEEP:
        raise ContactFileError(
            f"{where}: column {text!r} cannot be kept as metadata under its own name; "
            f"map it to {text} or drop it."
        )
    return text


def map_header(
    headers: Sequence[str | None], where: str, mapping: ColumnMapping | None = None
) -> HeaderMap:
    """Canonical names of a header row. Raises on a missing name or phone column, on two
    columns meaning the same thing, and on a mapping naming a column the header lacks."""
    mapping = mapping or {}
    keys: list[str | None] = []
    dropped: set[int] = set()
    seen: dict[str, str] = {}
    texts = ["" if header is None else str(header).strip() for header in headers]
    unknown = [name for name in mapping if name not in texts]
    if unknown:
        raise ContactFileError(f"{where}: no column named {unknown[0]!r} to map.")
    for index, text in enumerate(texts):
        target = mapping.get(text)
        if not text or target is ColumnTarget.DROP:
            keys.append(None)
            if text:
                dropped.add(index)
            continue
        key = _mapped_key(text, target, where)
        if key in seen:
            raise ContactFileError(
                f"{where}: columns {seen[key]!r} and {text!r} both mean {key!r}; keep one."
            )
        seen[key] = text
        keys.append(key)
    missing = [field for field in REQUIRED_FIELDS if field not in seen]
    if missing:
        found = ", ".join(repr(text) for text in seen.values()) or "none"
        wanted = "; ".join(
            f"{field}: one of {', '.join(HEADER_ALIASES[field])}" for field in missing
        )
        raise ContactFileError(
            f"{where}: no {' or '.join(missing)} column (found: {found}). "
            f"Name the columns as in {wanted} (any case)."
        )
    return HeaderMap(keys, frozenset(dropped))


_KEEP = frozenset(HEADER_ALIASES)  # already canonical: the common case skips the lookup


def _canonical_object(
    item: Mapping[str, Any], where: str, mapping: ColumnMapping | None = None
) -> dict[str, Any]:
    """A JSON object's keys under the same rules as a header row (without the required check)."""
    contact: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for raw_key, value in item.items():
        if mapping and raw_key in mapping:
            if mapping[raw_key] is ColumnTarget.DROP:
                continue
            key = _mapped_key(raw_key, mapping[raw_key], where)
        else:
            key = _CANONICAL.get(header_key(raw_key), raw_key) if raw_key not in _KEEP else raw_key
        if key in contact:
            raise ContactFileError(
                f"{where}: keys {origin[key]!r} and {raw_key!r} both mean {key!r}; keep one."
            )
        contact[key] = value
        origin[key] = raw_key
    return contact


def _unnamed_value(where: str, column: int) -> ContactFileError:
    return ContactFileError(f"{where}: column {column} has a value but no header name.")


# ------------------------------------------------------------------------------------- previews


@dataclass(frozen=True)
class FileTable:
    """The start of a file as read, before any mapping: its column names and first rows (each
    cell as text, "" when empty), and a CSV's encoding."""

    columns: list[str]
    rows: list[list[str]]
    encoding: str | None


def preview_table(
    path: Path,
    file_format: FileFormat | None = None,
    *,
    encoding: str | None = None,
    limit: int = 5,
) -> FileTable:
    """The header and the first `limit` non-empty rows, read by the same readers as the import
    (for JSON: the keys in the order first seen). Raises `ContactFileError`."""
    path = Path(path)
    file_format = file_format or detect_format(path)
    if file_format is FileFormat.CSV:
        encoding = encoding or detect_encoding(path)
        with _open_csv(path, encoding) as file:
            return FileTable(*_first_records(_csv_records(path, file), limit), encoding)
    if file_format is FileFormat.XLSX:
        with _workbook(path) as sheet:
            records = ((number, [_cell_text(v) if v is not None else "" for v in cells])
                       for number, cells in _xlsx_records(path, sheet))  # fmt: skip
            return FileTable(*_first_records(records, limit), None)
    objects = _read_ndjson(path) if file_format is FileFormat.NDJSON else _read_json(path)
    items = [item for _number, _where, item in islice(objects, limit)]
    columns = list(dict.fromkeys(key for item in items for key in item))
    rows = [[_json_cell(item.get(key)) for key in columns] for item in items]
    return FileTable(columns, rows, None)


def _first_records(
    records: Iterator[tuple[int, list[str]]], limit: int
) -> tuple[list[str], list[list[str]]]:
    _line, header = next(records)
    width = len(header)
    filled = (fields for _line, fields in records if any(fields))
    rows = [fields + [""] * (width - len(fields)) for fields in islice(filled, limit)]
    return [str(name).strip() if name else "" for name in header], rows


def _json_cell(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return msgspec.json.encode(value).decode()


# -------------------------------------------------------------------------------------------- CSV


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` tab in the header line (`,` when none occurs)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _open_csv(path: Path, encoding: str) -> IO[str]:
    # `utf-8-sig` drops a BOM if there is one; `utf-16` reads its BOM for the byte order.
    codec = "utf-8-sig" if check_encoding(encoding) == "utf-8" else encoding
    return open(path, encoding=codec, newline="")


def _read_csv(
    path: Path, encoding: str | None, mapping: ColumnMapping | None
) -> Iterator[SourceRow]:
    encoding = encoding or detect_encoding(path)
    with _open_csv(path, encoding) as file:
        try:
            yield from _csv_rows(path, _csv_records(path, file), mapping)
        except UnicodeDecodeError as exc:
            what = encoding_name(check_encoding(encoding))
            raise ContactFileError(
                f"{path.name}: not {what} ({exc.reason}); save it as UTF-8 "
                "(Excel: CSV UTF-8) or name its encoding."
            ) from None


def _csv_records(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(the line a record starts on, its fields): the header first. The reader is strict, so a
    quote left open is an error naming the line it opened on, not one broken row to the end."""
    lines = iter(lines)
    first = next(lines, "")
    skipped = 0  # blank lines before the header still count in line numbers
    while first and not first.strip():
        first, skipped = next(lines, ""), skipped + 1
    if not first.strip():
        raise ContactFileError(f"{path.name}: the file is empty; expected a header row.")
    reader = csv.reader(chain([first], lines), delimiter=sniff_delimiter(first), strict=True)
    end = skipped
    try:
        for fields in reader:
            start, end = end + 1, skipped + reader.line_num
            yield start, fields
    except csv.Error as exc:
        raise _csv_error(path, exc, end + 1, skipped + reader.line_num) from None


def _csv_error(path: Path, exc: csv.Error, start: int, line: int) -> ContactFileError:
    message = str(exc)
    if "unexpected end of data" in message:
        return ContactFileError(
            f"{path.name}, line {start}: a quoted field starts on this line and is never "
            'closed; add the closing quote (") or remove the opening one.'
        )
    if "expected after" in message:
        return ContactFileError(
            f"{path.name}, line {line}: text after a closing quote ({message}); inside a "
            'quoted field write a quote as two ("").'
        )
    return ContactFileError(f"{path.name}: not a readable CSV file: {message}")


def _csv_rows(
    path: Path, records: Iterator[tuple[int, list[str]]], mapping: ColumnMapping | None
) -> Iterator[SourceRow]:
    _line, header = next(records)
    header_map = map_header(header, f"{path.name}, header", mapping)
    keys = header_map.keys
    width = len(keys)
    names = [key for key in keys if key is not None]
    all_named = len(names) == width
    for start, fields in records:
        if len(fields) == width and all_named:
            contact = {key: value for key, value in zip(names, fields, strict=True) if value}
            if contact:
                yield SourceRow(start, contact)
            continue
        if not any(fields):
            continue
        where = f"{path.name}, line {start}"
        for column in range(width, len(fields)):
            if fields[column]:
                raise ContactFileError(
                    f"{where}: {len(fields)} fields but the header has {width}; "
                    f"quote values that contain the delimiter."
                )
        contact = {}
        for index, key in enumerate(keys[: len(fields)]):
            value = fields[index]
            if value and index not in header_map.dropped:
                if key is None:
                    raise _unnamed_value(where, index + 1)
                contact[key] = value
        if contact:
            yield SourceRow(start, contact)


# ----------------------------------------------------------------------------------------- NDJSON


def _decode_line(line: bytes, where: str) -> dict[str, Any]:
    try:
        item = msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        raise ContactFileError(f"{where}: not valid JSON ({exc}).") from None
    if not isinstance(item, dict):
        raise ContactFileError(f"{where}: expected a JSON object per line, got {_json_type(item)}.")
    return item


# A JSON file's objects as written: (number, where it is for messages, the object).
JsonObjects = Iterator[tuple[int, str, dict[str, Any]]]


def _canonical_objects(
    path: Path, objects: JsonObjects, mapping: ColumnMapping | None
) -> Iterator[SourceRow]:
    for number, where, item in objects:
        yield SourceRow(number, _canonical_object(item, where, mapping))


def _read_ndjson(path: Path) -> JsonObjects:
    with open(path, "rb") as file:
        empty = True
        for number, line in enumerate(file, start=1):
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if not line.strip():
                continue
            empty = False
            where = f"{path.name}, line {number}"
            yield number, where, _decode_line(line, where)
        if empty:
            raise ContactFileError(f"{path.name}: the file is empty; expected JSON objects.")


# ------------------------------------------------------------------------------------ JSON array


def _first_byte(file: BinaryIO) -> bytes:
    """The first non-whitespace byte after an optional BOM; the file is left just before it."""
    if file.read(len(BOM)) != BOM:
        file.seek(0)
    while True:
        position = file.tell()
        byte = file.read(1)
        if not byte or not byte.isspace():
            file.seek(position)
            return byte


def _read_json(path: Path) -> JsonObjects:
    with open(path, "rb") as file:
        first = _first_byte(file)
        if first == b"[":
            yield from _json_array_items(path, file)
            return
    if first == b"{":
        yield from _read_ndjson(path)
        return
    shown = first.decode(errors="replace")
    what = f"it starts with {shown!r}" if first else "the file is empty"
    raise ContactFileError(
        f"{path.name}: expected a JSON array of contact objects (or one object per line), "
        f"but {what}."
    )


def _json_array_items(path: Path, file: BinaryIO) -> JsonObjects:
    import ijson

    number = 0
    try:
        for number, item in enumerate(ijson.items(file, "item", use_float=True), start=1):
            where = f"{path.name}, item {number}"
            if not isinstance(item, dict):
                raise ContactFileError(f"{where}: expected an object, got {_json_type(item)}.")
            yield number, where, item
    except ijson.JSONError as exc:
        raise ContactFileError(f"{path.name}: invalid JSON after item {number}: {exc}") from None


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# ------------------------------------------------------------------------------------------- xlsx


def _cell_text(value: Any) -> str:
    """A cell as the text a row rule reads (numbers without a trailing `.0`)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _cell_value(value: Any) -> Any:
    """A cell as a JSON value for metadata: numbers and booleans stay typed."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


@contextmanager
def _workbook(path: Path) -> Iterator[Any]:
    """The workbook's first sheet, read-only; the workbook is closed after."""
    from zipfile import BadZipFile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ContactFileError(f"{path.name}: not a readable .xlsx workbook ({exc}).") from None
    try:
        yield workbook.worksheets[0]
    finally:
        workbook.close()


def _xlsx_records(path: Path, sheet: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(sheet row number, cells): the first non-empty row (the header) first."""
    rows = enumerate(sheet.iter_rows(values_only=True), start=1)
    for number, header in rows:
        if any(value is not None and str(value).strip() for value in header):
            yield number, header
            yield from rows
            return
    raise ContactFileError(f"{path.name}: the first sheet is empty; expected a header.")


def _read_xlsx(path: Path, mapping: ColumnMapping | None) -> Iterator[SourceRow]:
    with _workbook(path) as sheet:
        records = _xlsx_records(path, sheet)
        _number, header = next(records)
        header_map = map_header(header, f"{path.name}, header", mapping)
        keys = header_map.keys
        for number, cells in records:
            contact: dict[str, Any] = {}
            for index, value in enumerate(cells):
                if value is None or value == "" or index in header_map.dropped:
                    continue
                key = keys[index] if index < len(keys) else None
                if key is None:
                    raise _unnamed_value(f"{path.name}, row {number}", index + 1)
                contact[key] = _cell_text(value) if key in _KEEP else _cell_value(value)
            if contact:
                yield SourceRow(number, contact)
