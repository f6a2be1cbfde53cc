"""The Contacts UI over HTTP: sessions, cookie flags, CSRF, login throttling, and the file
upload's problems (the browser journey is tests/e2e/test_ui_browser.py)."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from contextlib import closing

import httpx
import openpyxl
import pytest

from tests.integration.api_support import assert_problem
from tests.stack import Stack
from tests.ui_support import PASSWORD, csrf_token, new_user, signed_in

pytestmark = pytest.mark.integration
UPLOAD = "/v1/imports/upload"


@pytest.fixture(scope="module")
def session(stack: Stack) -> Iterator[tuple[httpx.Client, str, str]]:
    email, org = new_user(stack)
    client, token = signed_in(stack, email)
    with closing(client):
        yield client, token, org


def upload(
    client: httpx.Client, token: str | None, name: str, data: bytes, **fields: str
) -> httpx.Response:
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = token
    return client.post(UPLOAD, files={"file": (name, data)}, data=fields, headers=headers)


def test_pages_redirect_to_sign_in_without_a_session(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api_url) as client:
        assert client.get("/").headers["location"] == "/ui/imports"
        for path in ("/ui/imports", "/ui/imports/new", "/ui/imports/imp_x", "/ui/partials/imports"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/ui/login?next=")
        assert "session" not in "".join(client.get("/ui/login").headers.get_list("set-cookie"))


def test_session_cookie_flags_and_sign_out(stack: Stack) -> None:
    email, _ = new_user(stack)
    with httpx.Client(base_url=stack.api_url) as client:
        token = csrf_token(client)
        response = client.post(
            "/ui/login", data={"email": email, "password": PASSWORD, "_csrf_token": token}
        )
        assert response.status_code == 303
        cookie = next(
            value
            for value in response.headers.get_list("set-cookie")
            if value.startswith("oliai_session=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=lax", "path=/"} <= flags
        assert "secure" not in flags  # plain http here; https (or OLIAI_COOKIE_SECURE) adds it
        csrf_cookie = next(value for value in client.cookies.jar if value.name == "oliai_csrf")
        assert csrf_cookie.has_nonstandard_attr("HttpOnly")
        assert client.get("/ui/imports").status_code == 200
        response = client.post("/ui/logout", data={"_csrf_token": token})
        assert response.status_code == 303
        assert client.get("/ui/imports").status_code == 303


def test_sign_in_replaces_a_planted_session_id(stack: Stack) -> None:
    email, _ = new_user(stack)
    with httpx.Client(base_url=stack.api_url) as client:
        client.cookies.set("oliai_session", "a" * 64, domain="127.0.0.1")
        token = csrf_token(client)
        client.post("/ui/login", data={"email": email, "password": PASSWORD, "_csrf_token": token})
        assert client.cookies.get("oliai_session") not in (None, "a" * 64)
        assert client.get("/ui/imports").status_code == 200


def test_forms_without_the_csrf_token_are_refused(stack: Stack) -> None:
    email, _ = new_user(stack)
    client, token = signed_in(stack, email)
    with closing(client):
        for path, data in (
            ("/ui/login", {"email": email, "password": PASSWORD}),
            ("/ui/logout", {}),
            ("/ui/login", {"email": email, "password": PASSWORD, "_csrf_token": "forged" * 20}),
        ):
            response = client.post(path, data=data)
            assert response.status_code == 403, (path, response.text)
            assert response.headers["content-type"].startswith("text/html")
            assert "The form expired" in response.text
        response = upload(client, None, "c.csv", b"name,phone\nAna,+34612345678\n")
        assert response.status_code == 403
        assert "CSRF" in response.json()["detail"]
        assert client.get("/ui/imports").status_code == 200  # still signed in
        assert token


def test_login_throttling_answers_429_with_retry_after(stack: Stack) -> None:
    email, _ = new_user(stack)
    with httpx.Client(base_url=stack.api_url) as client:
        token = csrf_token(client)
        for _ in range(5):
            response = client.post(
                "/ui/login", data={"email": email, "password": "wrong!", "_csrf_token": token}
            )
            assert response.status_code == 401
            assert "Wrong email or password" in response.text
        response = client.post(
            "/ui/login", data={"email": email, "password": PASSWORD, "_csrf_token": token}
        )
        assert response.status_code == 429  # even the right password, until the window passes
        assert 0 < int(response.headers["retry-after"]) <= 15 * 60
        assert "Too many failed sign-ins" in response.text
    other, _ = new_user(stack)
    signed_in(stack, other)[0].close()  # other accounts are not affected


def test_unknown_email_and_wrong_password_look_the_same(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api_url) as client:
        token = csrf_token(client)
        response = client.post(
            "/ui/login",
            data={"email": "nobody@nowhere.example", "password": "x", "_csrf_token": token},
        )
        assert response.status_code == 401
        assert "Wrong email or password" in response.text


def test_api_key_on_upload_is_still_403(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(UPLOAD, files={"file": ("c.csv", b"name,phone\nA,+1\n")})
        assert_problem(response, 403, "upload-not-available")
    with httpx.Client(base_url=stack.api_url) as client:
        assert_problem(client.post(UPLOAD), 401, "unauthorized")
        response = client.post(UPLOAD, headers={"X-API-Key": "oliai_nope"})
        assert_problem(response, 401, "unauthorized")


def test_api_key_with_a_session_cookie_is_still_403(stack: Stack, session: tuple) -> None:
    client, _token, _ = session
    response = client.post(
        UPLOAD,
        files={"file": ("c.csv", b"name,phone\nA,+1\n")},
        headers={"Authorization": f"Bearer {stack.api_key}"},
    )
    assert_problem(response, 403, "upload-not-available")


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


NO_PHONE_HINT = (
    "Name the columns as in phoneNumber: one of phoneNumber, phone, phone_number, Phone Number, "
    "mobile (any case)."
)


@pytest.mark.parametrize(
    ("name", "data", "status", "slug", "detail"),
    [
        ("empty.csv", b"", 422, "invalid-file", "empty.csv: the file is empty."),
        ("nophone.csv", b"name,email\nAna,a@x.io\n", 422, "invalid-file",
         f"nophone.csv, header: no phoneNumber column (found: 'name', 'email'). {NO_PHONE_HINT}"),
        ("nophone.xlsx", xlsx_bytes([["Name", "City"], ["Ana", "M"]]), 422, "invalid-file",
         f"nophone.xlsx, header: no phoneNumber column (found: 'Name', 'City'). {NO_PHONE_HINT}"),
        ("header-only.csv", b"name,phone\n", 422, "invalid-file",
         "header-only.csv: the file has a header but no contacts."),
        ("quote.csv", b'name,phone\nAna,+34612345678\n"Ben,+34612345679\nCid,+34612345670\n',
         422, "invalid-file", "quote.csv, line 3: a quoted field starts on this line and is never "
         'closed; add the closing quote (") or remove the opening one.'),
        ("fake.xlsx", b"name,phone\nAna,+1\n", 422, "invalid-file",
         "fake.xlsx: not a readable .xlsx workbook (File is not a zip file)."),
        ("photo.png", b"\x89PNG\r\n", 415, "unsupported-file-type",
         "photo.png: .png files cannot be imported; upload a CSV, Excel (.xlsx) or JSON file "
         "(.csv, .json, .jsonl, .ndjson, .tsv, .txt, .xlsm, .xlsx)."),
    ],
)  # fmt: skip
def test_bad_files_get_clear_problems(
    session: tuple, name: str, data: bytes, status: int, slug: str, detail: str
) -> None:
    client, token, _ = session
    problem = assert_problem(upload(client, token, name, data), status, slug)
    assert problem["detail"] == detail, problem


def test_broken_json_file_names_where_it_broke(session: tuple) -> None:
    client, token, _ = session
    response = upload(client, token, "broken.json", b'[{"name": "Ana",')
    problem = assert_problem(response, 422, "invalid-file")
    # The rest is the JSON parser's own description of the spot.
    assert problem["detail"].startswith("broken.json: invalid JSON after item 0: "), problem


def test_too_many_rows_and_too_many_bytes(session: tuple) -> None:
    client, token, _ = session
    rows = "name,phone\n" + "A,+34612345678\n" * 100_001
    problem = assert_problem(upload(client, token, "big.csv", rows.encode()), 413, "file-too-large")
    assert "more than 100,000 contacts" in problem["detail"]
    huge = b"name,phone,notes\n" + b"A,+34612345678," + b"x" * (50 * 1024 * 1024) + b"\n"
    problem = assert_problem(upload(client, token, "huge.csv", huge), 413, "file-too-large")
    assert "50 MiB" in problem["detail"]


def test_missing_file_and_bad_fields(session: tuple) -> None:
    client, token, _ = session
    response = client.post(
        UPLOAD, data={"audienceId": "x"}, files={"other": ("a.txt", b"")},
        headers={"X-CSRFToken": token},
    )  # fmt: skip
    assert_problem(response, 400, "bad-request")
    data = b"name,phone\nAna,+34612345678\n"
    response = upload(client, token, "c.csv", data, webhookUrl="ftp://example.com")
    assert_problem(response, 422, "invalid-request", pointer="/webhookUrl")


def test_upload_goes_through_the_bulk_path(stack: Stack, session: tuple) -> None:
    """100,000 rows (over the JSON API's 10,000) in one import; same rules, same statuses."""
    client, token, org = session
    rows = ["\ufeffFull Name;Mobile;Lang;tier"]
    rows += [f"Person {i};+1415555{i % 10_000:04d};en-us;gold" for i in range(100_000)]
    rows[5] = ";12345;xx-;gold"  # one bad row: three errors
    response = upload(client, token, "many.csv", "\n".join(rows).encode(), audienceId="aud_ui")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["total"] == 100_000
    key = stack.new_org_key(org)
    status = stack.wait_for_terminal(accepted["importId"], api_key=key, timeout_s=240)
    assert status["status"] == "COMPLETED_WITH_ERRORS"
    assert status["failed"] == 1
    assert status["created"] == 10_000  # the phone numbers repeat every 10,000 rows
    assert status["updated"] == 100_000 - 10_000 - 1
    with stack.client(key) as api:
        errors = api.get(f"/v1/imports/{accepted['importId']}/errors").json()
        listed = api.get("/v1/imports", params={"limit": 1}).json()["data"][0]
    # Row 4 (file line 6): no name, a phone without +, a broken language tag.
    expected = [
        (4, 6, "language", "invalid_tag", "xx-"),
        (4, 6, "name", "required", None),
        (4, 6, "phoneNumber", "missing_plus", "12345"),
    ]
    assert (
        sorted((e["rowIndex"], 6, e["field"], e["code"], e["value"]) for e in errors["data"])
        == expected
    )
    assert errors["total"] == 3
    assert listed["audienceId"] == "aud_ui"
    failed = client.get(f"/ui/imports/{accepted['importId']}/failed-rows.csv")
    assert failed.headers["content-type"] == "text/csv; charset=utf-8"
    assert list(csv.reader(io.StringIO(failed.text))) == [
        ["phoneNumber", "language", "tier", "errors"],
        [
            "12345", "xx-", "gold",
            "name required: name is required; phoneNumber missing_plus: phoneNumber must start "
            "with + and the country calling code, e.g. +919876543210, or the import must name a "
            "defaultCountry; language invalid_tag: language must be a BCP 47 language tag such "
            "as hi-IN, en or zh-Hant-TW",
        ],
    ]  # fmt: skip
    errors_csv = client.get(f"/ui/imports/{accepted['importId']}/errors.csv")
    assert errors_csv.headers["content-type"] == "text/csv; charset=utf-8"  # one charset
    csv_text = errors_csv.text
    header, *lines = csv.reader(io.StringIO(csv_text))
    assert header == ["row_index", "file_row", "field", "code", "message", "value"]
    assert (
        sorted((int(row[0]), int(row[1]), row[2], row[3], row[5] or None) for row in lines)
        == expected
    )


def test_problems_on_pages_are_pages_of_the_ui(stack: Stack) -> None:
    """Unknown and another organization's import: the same 404 page; a bad page number: 400;
    never the API's JSON. Every page is no-store."""
    email, _ = new_user(stack)
    others = stack.new_org_key("ui-other-" + secrets.token_hex(3))
    foreign = stack.post_import(
        {"contacts": [{"name": "A", "phoneNumber": "+34612345678"}]}, others
    )
    foreign_id = foreign.json()["importId"]
    client, _token = signed_in(stack, email)
    with closing(client):
        pages = {}
        for path in (f"/ui/imports/{foreign_id}", "/ui/imports/imp_000000000000000000000000"):
            response = client.get(path)
            assert response.status_code == 404, response.text
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-store"
            pages[path] = response.text.replace(path.rsplit("/", 1)[1], "ID")
        assert len(set(pages.values())) == 1
        assert "There is no such import in your organization." in response.text
        response = client.get("/ui/imports?page=0")
        assert response.status_code == 400
        assert "This address is not valid" in response.text
        for path in ("/ui/imports", "/ui/imports/new"):
            assert client.get(path).headers["cache-control"] == "no-store", path


def test_counts_are_written_for_people(stack: Stack) -> None:
    email, org = new_user(stack)
    key = stack.new_org_key(org)
    contacts = [{"name": f"C{i}", "phoneNumber": f"+3461{i:07d}"} for i in range(1_200)]
    import_id = stack.post_import({"contacts": contacts}, key).json()["importId"]
    status = stack.wait_for_terminal(import_id, key)
    client, _token = signed_in(stack, email)
    with closing(client):
        detail = client.get(f"/ui/imports/{import_id}").text
        listing = client.get("/ui/imports").text
    assert status["total"] == 1_200
    assert '<dd id="count-total">1,200</dd>' in detail
    assert "1 import" in listing
    assert "1 imports" not in listing
