"""The contact file readers: header aliases, encodings, delimiters, row numbers, formats, and
clear errors; every reader streams."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from client.contact_files import (
    ColumnTarget,
    ContactFileError,
    FileFormat,
    FileTable,
    SourceRow,
    canonical_name,
    check_encoding,
    detect_encoding,
    detect_format,
    preview_table,
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


WESTERN = (
    "name;phone;city;price\r\n"
    "José Muñoz;+34612345678;Logroño;5 €\r\n"
    "François Lefèvre;+33612345678;Besançon;“ok”\r\n"
)
WESTERN_ROWS = [
    (2, {"name": "José Muñoz", "phoneNumber": "+34612345678", "city": "Logroño", "price": "5 €"}),
    (3, {"name": "François Lefèvre", "phoneNumber": "+33612345678", "city": "Besançon",
         "price": "“ok”"}),
]  # fmt: skip


def test_cp1252_csv_is_detected_as_windows_1252(tmp_path: Path) -> None:
    """Excel's "CSV" in Western Europe: € and curly quotes exist only in Windows-1252, and
    charset-normalizer alone would pick Windows-1250 here (ñ → ń)."""
    path = write(tmp_path, "excel.csv", WESTERN.encode("cp1252"))
    assert detect_encoding(path) == "cp1252"
    assert rows(path) == WESTERN_ROWS
    # Here charset-normalizer's language coherence favours -1250 (0.59 to 0.56), with no chaos
    # in either: Windows-1252 still wins.
    spanish = (
        "Nombre;Móvil;Idioma;Ciudad;Notas\r\n"
        "José Muñoz;+34612345678;es;Logroño;vip\r\n"
        "Begoña Ibáñez;+34612345679;es;Sevilla;x\r\n"
        "François Lefèvre;612345670;fr;Besançon;\r\n"
        "Ana;+34612345671;xx-;Madrid;\r\n"
    )
    path = write(tmp_path, "es.csv", spanish.encode("cp1252"))
    assert detect_encoding(path) == "cp1252"


def test_latin1_csv_reads_as_windows_1252(tmp_path: Path) -> None:
    text = "name,phone,city\nZoë Ångström,+46701234567,Malmö\nJürgen Groß,+4915112345678,Köln\n"
    path = write(tmp_path, "latin1.csv", text.encode("latin-1"))
    assert detect_encoding(path) == "cp1252"
    # charset-normalizer folds code pages that decode a sample alike into one match, named
    # Windows-1250 here: still read (and named) as Windows-1252.
    german = write(tmp_path, "de.csv", "name;phone\nJürgen Groß;+4915112345678\n".encode("latin-1"))
    assert detect_encoding(german) == "cp1252"
    assert rows(path) == [
        (2, {"name": "Zoë Ångström", "phoneNumber": "+46701234567", "city": "Malmö"}),
        (3, {"name": "Jürgen Groß", "phoneNumber": "+4915112345678", "city": "Köln"}),
    ]


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
    ids=["le", "be"],
)
def test_utf16_with_bom_and_tabs_as_excel_unicode_text(
    tmp_path: Path, bom: bytes, codec: str
) -> None:
    """Excel's "Unicode Text": UTF-16 with a BOM, tab-delimited, CRLF."""
    text = WESTERN.replace(";", "\t") + "Анна Иванова\t+79161234567\tМосква\t\r\n"  # noqa: RUF001 (Cyrillic on purpose)
    path = write(tmp_path, "unicode.txt", bom + text.encode(codec))
    assert detect_encoding(path) == "utf-16"
    assert rows(path) == [
        *WESTERN_ROWS,
        (4, {"name": "Анна Иванова", "phoneNumber": "+79161234567", "city": "Москва"}),
    ]


def test_cyrillic_code_page_wins_when_it_scores_better(tmp_path: Path) -> None:
    text = "name,phone\nИван Петров,+79161234567\nМария Иванова,+79161234568\n"  # noqa: RUF001
    path = write(tmp_path, "ru.csv", text.encode("cp1251"))
    assert detect_encoding(path) == "cp1251"
    assert [contact["name"] for _, contact in rows(path)] == ["Иван Петров", "Мария Иванова"]


def test_a_named_encoding_overrides_detection(tmp_path: Path) -> None:
    """Windows-1250 ties with -1252 on these bytes, so detection says -1252; naming the
    encoding reads the Czech names right."""
    text = "name,phone\nJiří Dvořák,+420601123456\n"
    path = write(tmp_path, "cz.csv", text.encode("cp1250"))
    assert detect_encoding(path) == "cp1252"
    assert rows(path) == [(2, {"name": "Jiøí Dvoøák", "phoneNumber": "+420601123456"})]
    named = [(row.row_number, row.contact) for row in read_contacts(path, encoding="cp1250")]
    assert named == [(2, {"name": "Jiří Dvořák", "phoneNumber": "+420601123456"})]


def test_utf8_stays_utf8_and_a_wrong_named_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "name,phone\nJosé,+1\n")
    assert detect_encoding(path) == "utf-8"
    latin = write(tmp_path, "l.csv", "name,phone\nJosé,+1\n".encode("latin-1"))
    with pytest.raises(ContactFileError) as error:
        list(read_contacts(latin, encoding="utf-8"))
    assert str(error.value) == (
        "l.csv: not UTF-8 (invalid continuation byte); save it as UTF-8 (Excel: CSV UTF-8) "
        "or name its encoding."
    )
    with pytest.raises(ContactFileError, match="unknown encoding 'klingon'"):
        check_encoding("klingon")
    assert check_encoding("latin-1") == "iso8859-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name,phone\nAna,+34612345678\n"Ben,+34612345679\nCid,+34612345670\n',
         "c.csv, line 3: a quoted field starts on this line and is never closed; add the "
         'closing quote (") or remove the opening one.'),
        ('name,phone\n"Ana\nMaría",+34612345678\n\nBen,"+34612345679\n',
         "c.csv, line 5: a quoted field starts on this line and is never closed; add the "
         'closing quote (") or remove the opening one.'),
        ('"name,phone\nAna,+34612345678\n',
         "c.csv, line 1: a quoted field starts on this line and is never closed; add the "
         'closing quote (") or remove the opening one.'),
        ('name,phone\nAna,+34612345678\n"Ben" Smith,+34612345679\n',
         "c.csv, line 3: text after a closing quote (',' expected after '\"'); inside a "
         'quoted field write a quote as two ("").'),
    ],
    ids=["one-line", "after-a-multiline-record", "in-the-header", "text-after-quote"],
)  # fmt: skip
def test_an_unclosed_quote_is_refused_with_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ContactFileError) as error:
        rows(write(tmp_path, "c.csv", text))
    assert str(error.value) == message


SPANISH = "Nombre completo;Móvil;Idioma;Ciudad;Notas\nAna Pérez;+34612345678;es;Sevilla;vip\n"


def test_an_explicit_mapping_overrides_the_alias_guess(tmp_path: Path) -> None:
    path = write(tmp_path, "es.csv", SPANISH)
    with pytest.raises(ContactFileError, match="no name or phoneNumber column"):
        rows(path)  # the aliases know no Spanish
    mapping = {
        "Nombre completo": ColumnTarget.NAME,
        "Móvil": ColumnTarget.PHONE_NUMBER,
        "Idioma": ColumnTarget.LANGUAGE,
        "Ciudad": ColumnTarget.METADATA,
        "Notas": ColumnTarget.DROP,
    }
    read = [(row.row_number, row.contact) for row in read_contacts(path, mapping=mapping)]
    assert read == [
        (2, {"name": "Ana Pérez", "phoneNumber": "+34612345678", "language": "es",
             "Ciudad": "Sevilla"}),
    ]  # fmt: skip
    # Columns left out of the mapping keep the guess; a known alias can be remapped.
    path = write(tmp_path, "c.csv", "name,phone,mobile\nAna,+34612345678,+34699999999\n")
    mapped = read_contacts(path, mapping={"phone": ColumnTarget.DROP})
    assert [row.contact for row in mapped] == [{"name": "Ana", "phoneNumber": "+34699999999"}]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"name": ColumnTarget.METADATA},
         "c.csv, header: column 'name' cannot be kept as metadata under its own name; map it "
         "to name or drop it."),
        ({"city": ColumnTarget.NAME},
         "c.csv, header: columns 'name' and 'city' both mean 'name'; keep one."),
        ({"email": ColumnTarget.DROP}, "c.csv, header: no column named 'email' to map."),
        ({"phone": ColumnTarget.DROP},
         "c.csv, header: no phoneNumber column (found: 'name', 'city'). Name the columns as in "
         "phoneNumber: one of phoneNumber, phone, phone_number, Phone Number, mobile (any case)."),
    ],
)  # fmt: skip
def test_mapping_mistakes_are_clear_errors(
    tmp_path: Path, mapping: dict[str, ColumnTarget], message: str
) -> None:
    path = write(tmp_path, "c.csv", "name,phone,city\nAna,+34612345678,Sevilla\n")
    with pytest.raises(ContactFileError) as error:
        list(read_contacts(path, mapping=mapping))
    assert str(error.value) == message


def test_mapping_applies_to_xlsx_and_json(tmp_path: Path) -> None:
    mapping = {"Nombre": ColumnTarget.NAME, "Tel": ColumnTarget.PHONE_NUMBER,
               "x": ColumnTarget.DROP}  # fmt: skip
    book = make_xlsx(tmp_path / "c.xlsx", [["Nombre", "Tel", "x"], ["Ana", "+34612345678", 1]])
    data = write(tmp_path, "c.json", '[{"Nombre": "Ana", "Tel": "+34612345678", "x": 1}]')
    expected = [{"name": "Ana", "phoneNumber": "+34612345678"}]
    for path in (book, data):
        assert [row.contact for row in read_contacts(path, mapping=mapping)] == expected


def test_preview_table_shows_columns_and_first_rows_as_read(tmp_path: Path) -> None:
    text = "\n".join(["Name;Phone;City", "", *(f"P{i};+3461234567{i};" for i in range(7))])
    table = preview_table(write(tmp_path, "c.csv", text.encode("cp1252")), limit=3)
    assert table == FileTable(
        ["Name", "Phone", "City"],
        [["P0", "+34612345670", ""], ["P1", "+34612345671", ""], ["P2", "+34612345672", ""]],
        "utf-8",
    )
    table = preview_table(write(tmp_path, "w.csv", WESTERN.encode("cp1252")))
    assert (table.encoding, table.rows[0][0]) == ("cp1252", "José Muñoz")
    book = make_xlsx(tmp_path / "c.xlsx", [["Name", "Phone", None], ["Ana", 34612345678, None]])
    assert preview_table(book) == FileTable(["Name", "Phone", ""], [["Ana", "34612345678", ""]],
                                            None)  # fmt: skip
    data = write(tmp_path, "c.ndjson", '{"name": "A", "n": 1}\n{"phone": "+1", "n": [2]}\n')
    assert preview_table(data) == FileTable(
        ["name", "n", "phone"], [["A", "1", ""], ["", "[2]", "+1"]], None
    )


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
