"""The contact file readers: header aliases, encodings, delimiters, row numbers, formats, and
clear errors; every reader streams."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from client.contact_files import (
    ContactFileError,
    FileFormat,
    SourceRow,
    canonical_name,
    detect_format,
    read_contacts,
    sniff_delimiter,
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(row.row_number, row.contact) for row in read_contacts(path)]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("phoneNumber", "phoneNumber"),
        ("phone", "phoneNumber"),
        ("phone_number", "phoneNumber"),
        ("Phone Number", "phoneNumber"),
        ("PHONE-NUMBER", "phoneNumber"),
        ("mobile", "phoneNumber"),
        (" Mobile ", "phoneNumber"),
        ("name", "name"),
        ("Name", "name"),
        ("full name", "name"),
        ("Full_Name", "name"),
        ("language", "language"),
        ("lang", "language"),
        ("Locale", "language"),
        ("City", "City"),
        (" tier ", "tier"),
    ],
)
def test_header_aliases_ignore_case_and_separators(header: str, field: str) -> None:
    assert canonical_name(header) == field


def test_csv_maps_aliases_and_keeps_other_columns_as_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.csv",
        "Full Name,Phone Number,LANG,City,tier\n"
        "Priya Sharma,+919876543210,hi-IN,Mumbai,premium\n"
        "Ravi,+919123456789,,Delhi,\n",
    )
    assert rows(path) == [
        (
            2,
            {
                "name": "Priya Sharma",
                "phoneNumber": "+919876543210",
                "language": "hi-IN",
                "City": "Mumbai",
                "tier": "premium",
            },
        ),
        # Empty cells are left out: no language, no tier.
        (3, {"name": "Ravi", "phoneNumber": "+919123456789", "City": "Delhi"}),
    ]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_csv_utf8_with_or_without_bom_and_sniffed_delimiter(
    tmp_path: Path, bom: bytes, delimiter: str
) -> None:
    lines = [["name", "phone", "note"], ["Zoë", "+44 20 7946 0958", "a, b; c"]]
    text = "\n".join(
        delimiter.join(f'"{cell}"' if delimiter in cell else cell for cell in line)
        for line in lines
    )
    path = write(tmp_path, "c.csv", bom + text.encode("utf-8"))
    assert rows(path) == [
        (2, {"name": "Zoë", "phoneNumber": "+44 20 7946 0958", "note": "a, b; c"})
    ]


def test_sniff_delimiter_defaults_to_comma() -> None:
    assert sniff_delimiter("name\n") == ","
    assert sniff_delimiter("name;phone;a,b\n") == ";"


def test_csv_row_numbers_are_lines_of_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.csv",
        "\n"  # line 1: blank lines before the header are skipped
        "name,phone\r\n"  # line 2
        "A,+1\r\n"  # line 3
        "\r\n"  # line 4: blank
        ",\r\n"  # line 5: only empty cells
        '"B\nsecond line",+2\r\n'  # lines 6-7: a quoted line break
        "C,+3",  # line 8, no final newline
    )
    assert [number for number, _ in rows(path)] == [3, 6, 8]
    assert rows(path)[1][1]["name"] == "B\nsecond line"


def test_csv_short_rows_miss_keys_and_long_rows_are_refused(tmp_path: Path) -> None:
    assert rows(write(tmp_path, "short.csv", "name,phone,city\nA,+1\n")) == [
        (2, {"name": "A", "phoneNumber": "+1"})
    ]
    with pytest.raises(ContactFileError, match=r"long\.csv, line 3: 4 fields but the header has 3"):
        rows(write(tmp_path, "long.csv", "name,phone,city\nA,+1,X\nB,+2,Y,extra\n"))


def test_csv_unnamed_column_with_a_value_is_refused(tmp_path: Path) -> None:
    # An unnamed column that is empty (a spreadsheet's trailing column) is fine.
    assert rows(write(tmp_path, "ok.csv", "name,phone,\nA,+1,\n")) == [
        (2, {"name": "A", "phoneNumber": "+1"})
    ]
    with pytest.raises(ContactFileError, match="line 2: column 3 has a value but no header"):
        rows(write(tmp_path, "bad.csv", "name,phone,\nA,+1,oops\n"))


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff"], ids=["empty", "blank", "bom-only"])
def test_empty_csv_is_a_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ContactFileError, match="the file is empty; expected a header row"):
        rows(write(tmp_path, "c.csv", text))


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    assert rows(write(tmp_path, "c.csv", "name,phone\n")) == []


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("full name,city", "phoneNumber"),
        ("mobile,city", "name"),
        ("city,tier", "name or phoneNumber"),
    ],
)
def test_missing_name_or_phone_column_is_a_clear_error(
    tmp_path: Path, header: str, missing: str
) -> None:
    path = write(tmp_path, "c.csv", f"{header}\nx,y\n")
    with pytest.raises(ContactFileError) as error:
        rows(path)
    message = str(error.value)
    assert f"no {missing} column" in message
    assert "found: " in message
    assert "phone_number" in message or "full name" in message  # the aliases are listed


def test_two_columns_with_one_meaning_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "name,phone,mobile\nA,+1,+2\n")
    with pytest.raises(ContactFileError, match="'phone' and 'mobile' both mean 'phoneNumber'"):
        rows(path)


def test_csv_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "name,phone\nJosé,+1\n".encode("latin-1"))
    with pytest.raises(ContactFileError, match="not UTF-8"):
        rows(path)


def test_ndjson_lines_bom_blank_lines_and_aliases(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.ndjson",
        b'\xef\xbb\xbf{"name": "A", "phone": "+1", "vip": true}\n'
        b"\n"
        b'{"Full Name": "B", "phoneNumber": "+2", "score": 4.5, "tags": ["x"]}\n',
    )
    assert rows(path) == [
        (1, {"name": "A", "phoneNumber": "+1", "vip": True}),
        (3, {"name": "B", "phoneNumber": "+2", "score": 4.5, "tags": ["x"]}),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'["A", "+1"]', r"c\.ndjson, line 2: expected a JSON object per line, got an array"),
        (b'{"name": "A"', r"c\.ndjson, line 2: not valid JSON"),
        (b'{"phone": "+1", "mobile": "+2"}', "'phone' and 'mobile' both mean 'phoneNumber'"),
    ],
)
def test_ndjson_errors_name_the_line(tmp_path: Path, line: bytes, message: str) -> None:
    path = write(tmp_path, "c.ndjson", b'{"name": "ok", "phone": "+1"}\n' + line + b"\n")
    with pytest.raises(ContactFileError, match=message):
        rows(path)


def test_empty_ndjson_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContactFileError, match="the file is empty"):
        rows(write(tmp_path, "c.jsonl", "\n\n"))


def test_json_array_items_are_numbered_from_one(tmp_path: Path) -> None:
    contacts = [
        {"name": "A", "phoneNumber": "+1", "language": "hi-IN", "n": 1, "f": 1.5},
        {"Name": "B", "mobile": "+2", "nested": {"a": [1, None]}},
    ]
    path = write(tmp_path, "c.json", b"\xef\xbb\xbf \n" + json.dumps(contacts).encode())
    assert rows(path) == [
        (1, contacts[0]),
        (2, {"name": "B", "phoneNumber": "+2", "nested": {"a": [1, None]}}),
    ]


def test_json_file_of_objects_per_line_is_read_as_ndjson(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"name": "A", "phone": "+1"}\n{"name": "B", "phone": "+2"}\n')
    assert [number for number, _ in rows(path)] == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ('"contacts"', "expected a JSON array"),
        ('[{"name": "A"}, 42]', r"item 2: expected an object, got a number"),
    ],
)
def test_json_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ContactFileError, match=message):
        rows(write(tmp_path, "c.json", text))


def test_json_array_is_streamed(tmp_path: Path) -> None:
    """Items come out before the parser reaches the broken end of the file."""
    items = ",".join(json.dumps({"name": f"C{i}", "phone": f"+1{i}"}) for i in range(1000))
    path = write(tmp_path, "c.json", f"[{items}, {{broken")
    reader = read_contacts(path)
    assert next(reader) == SourceRow(1, {"name": "C0", "phoneNumber": "+10"})
    seen: list[SourceRow] = []
    with pytest.raises(ContactFileError, match="invalid JSON after item 1000"):
        seen.extend(reader)
    assert len(seen) == 999


def test_csv_rows_come_out_while_the_file_is_still_being_written(tmp_path: Path) -> None:
    """The reader hands out row 1 before the rest of the file exists: it holds no more than
    it has read (its peak memory on a large file: bench/batch_import.py)."""
    path = tmp_path / "big.csv"
    os.mkfifo(path)
    rest_written = threading.Event()
    first_row_read = threading.Event()

    def write() -> None:
        with open(path, "w", encoding="utf-8") as pipe:
            pipe.write("name,phone,city,tier\nContact number 0,+14150000000,Some City,gold\n")
            pipe.flush()
            first_row_read.wait(60)  # a reader that wants the whole file first gets it late
            for i in range(1, 50_000):
                pipe.write(f"Contact number {i},+1415{i:07d},Some City,gold\n")
            rest_written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reader = read_contacts(path)
        first = next(reader)
        written_before = rest_written.is_set()
        first_row_read.set()
        count = 1 + sum(1 for _ in reader)
    finally:
        first_row_read.set()
        writer.join()
    assert first == SourceRow(
        2, {"name": "Contact number 0", "phoneNumber": "+14150000000", "city": "Some City",
            "tier": "gold"}
    )  # fmt: skip
    assert not written_before
    assert count == 50_000


def make_xlsx(path: Path, rows_: list[list[Any]], *, blank_rows: tuple[int, ...] = ()) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    row_number = 1
    for values in rows_:
        while row_number in blank_rows:
            row_number += 1
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row_number, column=column, value=value)
        row_number += 1
    workbook.save(path)
    return path


def test_xlsx_cells_rows_and_types(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "c.xlsx",
        [
            ["Full Name", "Phone Number", "Locale", "Joined", "Score", "VIP", None],
            ["Priya", "+919876543210", "hi-IN", dt.datetime(2026, 3, 10, 10, 5), 4.5, True],
            ["Numeric Phone", 14155550123, None, None, 7, False],
        ],
        blank_rows=(3,),
    )
    assert rows(path) == [
        (
            2,
            {
                "name": "Priya",
                "phoneNumber": "+919876543210",
                "language": "hi-IN",
                "Joined": "2026-03-10T10:05:00",
                "Score": 4.5,
                "VIP": True,
            },
        ),
        # Row 3 is empty; a phone stored as a number is read as its digits (then a row error).
        (4, {"name": "Numeric Phone", "phoneNumber": "14155550123", "Score": 7, "VIP": False}),
    ]


def test_xlsx_missing_phone_column_is_a_clear_error(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "c.xlsx", [["name", "city"], ["A", "X"]])
    with pytest.raises(ContactFileError, match=r"c\.xlsx, header: no phoneNumber column"):
        rows(path)


def test_not_an_xlsx_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContactFileError, match=r"not a readable \.xlsx workbook"):
        rows(write(tmp_path, "c.xlsx", "name,phone\n"))


def test_formats_by_extension(tmp_path: Path) -> None:
    assert detect_format(Path("a.CSV")) is FileFormat.CSV
    assert detect_format(Path("a.tsv")) is FileFormat.CSV
    assert detect_format(Path("a.jsonl")) is FileFormat.NDJSON
    assert detect_format(Path("a.json")) is FileFormat.JSON
    assert detect_format(Path("a.xlsx")) is FileFormat.XLSX
    with pytest.raises(ContactFileError, match=r"unknown file type '\.xls'"):
        detect_format(Path("a.xls"))
