"""The Contacts UI's file path: file → contacts or a clear problem; row maps; the throttle."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import openpyxl
import pytest

from api.errors import ServiceError
from api.problems import Problem, problem_for
from api.schemas import MAX_CONTACTS, MAX_FILE_CONTACTS
from api.ui_auth import LoginThrottle
from api.uploads import file_row, parse_contacts_file, row_map, safe_file_name
from api.validation import decode_bulk_request
from core.passwords import hash_password, password_problem, verify_password


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def problem_of(path: Path, **limits: int) -> Problem:
    with pytest.raises(ServiceError) as caught:
        parse_contacts_file(path, **limits)
    return problem_for(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "name,phone,city\nAna,+34612345678,Madrid\n",
        "\ufeffname,phone,city\nAna,+34612345678,Madrid\n",
        "Name;Phone Number;city\r\nAna;+34612345678;Madrid\r\n",
        "FULL NAME\tMobile\tcity\nAna\t+34612345678\tMadrid\n",
    ],
    ids=["comma", "bom", "semicolon-crlf-aliases", "tab-aliases"],
)
def test_csv_variants_give_the_same_contact(tmp_path: Path, text: str) -> None:
    parsed = parse_contacts_file(write(tmp_path, "c.csv", text))
    assert parsed.contacts == [{"name": "Ana", "phoneNumber": "+34612345678", "city": "Madrid"}]
    assert parsed.row_numbers == [2]


def test_xlsx_and_json_array(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Phone", "Name", "Tier"])
    sheet.append(["+34612345678", "Ana", 3])
    workbook.save(tmp_path / "c.xlsx")
    parsed = parse_contacts_file(tmp_path / "c.xlsx")
    assert parsed.contacts == [{"phoneNumber": "+34612345678", "name": "Ana", "Tier": 3}]
    items = [{"Name": "Ana", "phone": "+34612345678"}, {"name": "Bo", "mobile": "1"}]
    parsed = parse_contacts_file(write(tmp_path, "c.json", json.dumps(items)))
    assert [c["phoneNumber"] for c in parsed.contacts] == ["+34612345678", "1"]
    assert parsed.row_numbers == [1, 2]


@pytest.mark.parametrize(
    ("name", "data", "status", "slug", "says"),
    [
        ("c.csv", b"", 422, "invalid-file", "the file is empty"),
        ("c.xlsx", b"", 422, "invalid-file", "the file is empty"),
        ("c.csv", b"\n\n  \n", 422, "invalid-file", "empty"),
        ("c.csv", b"name,phone\n", 422, "invalid-file", "header but no contacts"),
        ("c.csv", b"name,email\nAna,a@x.io\n", 422, "invalid-file", "no phoneNumber column"),
        ("c.csv", b"phone\n+34612345678\n", 422, "invalid-file", "no name column"),
        ("c.csv", b'name,phone\n"Ana,1\n', 422, "invalid-file", "line 2: a quoted field starts"),
        ("c.xlsx", b"name,phone\nAna,1\n", 422, "invalid-file", "not a readable .xlsx"),
        ("c.json", b'{"name": "Ana"', 422, "invalid-file", "not valid JSON"),
        ("c.json", b'[{"name": "Ana", "phone": "1"}, 3]', 422, "invalid-file", "expected an"),
        ("c.pdf", b"%PDF-1.4", 415, "unsupported-file-type", "CSV, Excel (.xlsx) or JSON"),
        ("c.xls", b"\xd0\xcf\x11\xe0", 415, "unsupported-file-type", ".xls files"),
    ],
)
def test_bad_files_get_clear_problems(
    tmp_path: Path, name: str, data: bytes, status: int, slug: str, says: str
) -> None:
    problem = problem_of(write(tmp_path, name, data))
    assert problem.status_code == status
    assert problem.type_ == f"/problems/{slug}"
    assert says in str(problem.detail), problem.detail
    assert name in str(problem.detail)  # the user's file name, not a temporary one


def test_row_and_byte_limits(tmp_path: Path) -> None:
    rows = "name,phone\n" + "".join(f"N{i},+3461234{i:04d}\n" for i in range(11))
    path = write(tmp_path, "c.csv", rows)
    assert len(parse_contacts_file(path, max_rows=11).contacts) == 11
    problem = problem_of(path, max_rows=10)
    assert (problem.status_code, problem.type_) == (413, "/problems/file-too-large")
    assert "more than 10 contacts" in str(problem.detail)
    problem = problem_of(path, max_bytes=50)
    assert (problem.status_code, problem.type_) == (413, "/problems/file-too-large")


def test_row_map_round_trips_file_rows() -> None:
    rows = [2, 3, 4, 7, 8, 12]  # blank lines and a multi-line quoted field in between
    runs = row_map(rows)
    assert runs == [[0, 2, 3], [3, 7, 2], [5, 12, 1]]
    assert [file_row(runs, index) for index in range(len(rows))] == rows
    assert file_row(runs, 6) is None
    assert row_map(list(range(2, 100_002))) == [[0, 2, 100_000]]


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("contacts.csv", "contacts.csv"),
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\ana\\My list.xlsx", "My list.xlsx"),
        ("..", "upload"),
        ("a\x00b;rm -rf.json", "a_b_rm -rf.json"),
    ],
)
def test_safe_file_name(given: str, safe: str) -> None:
    assert safe_file_name(given) == safe


def test_file_limit_is_a_parameter_of_the_bulk_path() -> None:
    body = msgspec.json.encode({"contacts": [{}] * (MAX_CONTACTS + 1)})
    with pytest.raises(Problem) as caught:
        decode_bulk_request(body)
    assert caught.value.status_code == 422
    assert len(decode_bulk_request(body, MAX_FILE_CONTACTS).contacts) == MAX_CONTACTS + 1
    too_many = msgspec.json.encode({"contacts": [{}] * (MAX_FILE_CONTACTS + 1)})
    with pytest.raises(Problem):
        decode_bulk_request(too_many, MAX_FILE_CONTACTS)


def test_passwords_are_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterz")
    assert not verify_password(None, "anything")  # unknown user: same work, always False
    assert not verify_password("not a hash", "x")
    assert password_problem("short") is not None
    assert password_problem("long enough password") is None


def test_login_throttle_counts_per_email_and_client() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("a@x.io", "1.2.3.4") is None
        throttle.failed("a@x.io", "1.2.3.4")
    assert throttle.retry_after("a@x.io", "1.2.3.4") == 60
    assert throttle.retry_after("a@x.io", "5.6.7.8") is None  # another client
    assert throttle.retry_after("b@x.io", "1.2.3.4") is None  # another email
    now[0] += 30
    assert throttle.retry_after("a@x.io", "1.2.3.4") == 30
    now[0] += 30
    assert throttle.retry_after("a@x.io", "1.2.3.4") is None  # the window slid
    throttle.failed("a@x.io", "1.2.3.4")
    throttle.succeeded("a@x.io", "1.2.3.4")
    assert throttle.retry_after("a@x.io", "1.2.3.4") is None
