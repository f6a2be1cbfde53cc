"""Contacts files (CSV, NDJSON, JSON array, .xlsx) streamed as contact dicts with row numbers.

Every reader is a generator that holds one row at a time, so a 5 GB CSV costs no more memory than
a small one. Each row comes with the number a person finds it under in the original file (see
`SourceRow`) and a contact dict in the bulk endpoint's shape: header names (or JSON keys) are
matched case-insensitively against `HEADER_ALIASES`; every other column is kept, under its own
name, for the contact's metadata.

Pure standard library plus `ijson` and `openpyxl`: no litestar, no dagster, no CLI. The command
line (`oliai import`) and the Contacts UI share these readers.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")


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


def read_contacts(path: Path, file_format: FileFormat | None = None) -> Iterator[SourceRow]:
    """Every contact of the file, in file order, one at a time. Raises `ContactFileError`."""
    path = Path(path)
    file_format = file_format or detect_format(path)
    if file_format is FileFormat.CSV:
        return _read_csv(path)
    if file_format is FileFormat.XLSX:
        return _read_xlsx(path)
    if file_format is FileFormat.NDJSON:
        return _read_ndjson(path)
    return _read_json(path)


# ---------------------------------------------------------------------------------------- headers


def map_header(headers: Sequence[str | None], where: str) -> list[str | None]:
    """Canonical names of a header row (None for an unnamed column). Raises on a missing
    name or phone column and on two columns meaning the same thing."""
    keys: list[str | None] = []
    seen: dict[str, str] = {}
    for header in headers:
        text = "" if header is None else str(header).strip()
        if not text:
            keys.append(None)
            continue
        key = canonical_name(text)
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
    return keys


_KEEP = frozenset(HEADER_ALIASES)  # already canonical: the common case skips the lookup


def _canonical_object(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A JSON object's keys under the same rules as a header row (without the required check)."""
    contact: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for raw_key, value in item.items():
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


# -------------------------------------------------------------------------------------------- CSV


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` tab in the header line (`,` when none occurs)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _read_csv(path: Path) -> Iterator[SourceRow]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        try:
            yield from _csv_rows(path, file)
        except UnicodeDecodeError as exc:
            raise ContactFileError(
                f"{path.name}: not UTF-8 ({exc.reason}); save it as UTF-8 (Excel: CSV UTF-8)."
            ) from None
        except csv.Error as exc:
            raise ContactFileError(f"{path.name}: not a readable CSV file: {exc}") from None


def _csv_rows(path: Path, lines: Iterable[str]) -> Iterator[SourceRow]:
    lines = iter(lines)
    first = next(lines, "")
    skipped = 0  # blank lines before the header still count in line numbers
    while first and not first.strip():
        first, skipped = next(lines, ""), skipped + 1
    if not first.strip():
        raise ContactFileError(f"{path.name}: the file is empty; expected a header row.")
    reader = csv.reader(chain([first], lines), delimiter=sniff_delimiter(first))
    keys = map_header(next(reader), f"{path.name}, header")
    width = len(keys)
    names = [key for key in keys if key is not None]
    all_named = len(names) == width
    end = skipped + reader.line_num
    for fields in reader:
        start, end = end + 1, skipped + reader.line_num
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
            if value:
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
    return _canonical_object(item, where)


def _read_ndjson(path: Path) -> Iterator[SourceRow]:
    with open(path, "rb") as file:
        empty = True
        for number, line in enumerate(file, start=1):
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if not line.strip():
                continue
            empty = False
            yield SourceRow(number, _decode_line(line, f"{path.name}, line {number}"))
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


def _read_json(path: Path) -> Iterator[SourceRow]:
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


def _json_array_items(path: Path, file: BinaryIO) -> Iterator[SourceRow]:
    import ijson

    number = 0
    try:
        for number, item in enumerate(ijson.items(file, "item", use_float=True), start=1):
            where = f"{path.name}, item {number}"
            if not isinstance(item, dict):
                raise ContactFileError(f"{where}: expected an object, got {_json_type(item)}.")
            yield SourceRow(number, _canonical_object(item, where))
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


def _read_xlsx(path: Path) -> Iterator[SourceRow]:
    from zipfile import BadZipFile

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ContactFileError(f"{path.name}: not a readable .xlsx workbook ({exc}).") from None
    try:
        sheet = workbook.worksheets[0]
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        header: tuple[Any, ...] = ()
        for _number, header in rows:
            if any(value is not None and str(value).strip() for value in header):
                break
        else:
            raise ContactFileError(f"{path.name}: the first sheet is empty; expected a header.")
        keys = map_header(header, f"{path.name}, header")
        for number, cells in rows:
            contact: dict[str, Any] = {}
            for index, value in enumerate(cells):
                if value is None or value == "":
                    continue
                key = keys[index] if index < len(keys) else None
                if key is None:
                    raise _unnamed_value(f"{path.name}, row {number}", index + 1)
                contact[key] = _cell_text(value) if key in _KEEP else _cell_value(value)
            if contact:
                yield SourceRow(number, contact)
    finally:
        workbook.close()
