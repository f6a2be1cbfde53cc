"""The Contacts UI's preview over HTTP: a file stored once as a draft, its columns mapped, the
dry run of the whole file recomputed for each mapping and option, then imported through the
upload's path (same row map) and the draft gone. In a browser: tests/e2e/test_preview_browser.py."""

from __future__ import annotations

import csv
import io
import re
from contextlib import closing

import httpx
import pytest

from tests.stack import Stack
from tests.ui_support import new_user, signed_in

pytestmark = pytest.mark.integration

# Excel's "CSV" on a Spanish Windows: Windows-1252, `;`, CRLF, headers no alias knows.
SPANISH = (
    "Nombre;Móvil;Idioma;Ciudad;Notas\r\n"
    "José Muñoz;+34612345678;es;Logroño;vip\r\n"  # line 2: the organization has this number
    "Begoña Ibáñez;+34612345679;es;Sevilla;x\r\n"  # line 3: new
    "François Lefèvre;612345670;fr;Besançon;\r\n"  # line 4: no +: fails unless country ES
    "Ana;+34612345671;xx-;Madrid;\r\n"  # line 5: a broken language tag
).encode("cp1252")
MAPPED = {"column-0": "name", "column-1": "phoneNumber", "column-2": "language",
          "column-3": "metadata", "column-4": "drop"}  # fmt: skip
COUNT = re.compile(r'id="would-(create|update|skip|fail)"[^>]*>([\d,]+)<')
ERROR = re.compile(r'<div class="error" id="preview-error" role="alert">([^<]*)</div>')
CODES = re.compile(r'<li data-code="(\w+)"><strong>([^<]+)</strong>')


def counts(page: httpx.Response) -> dict[str, int]:
    return {action: int(number.replace(",", "")) for action, number in COUNT.findall(page.text)}


def store(client: httpx.Client, token: str, name: str, data: bytes, **fields: str) -> str:
    """POST the file for a preview; the draft's page address."""
    response = client.post(
        "/ui/imports/preview", files={"file": (name, data)}, data={"_csrf_token": token, **fields}
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/ui/imports/preview/drf_[0-9a-f]{32}", location), location
    return location


def again(client: httpx.Client, token: str, page: str, **fields: str) -> httpx.Response:
    return client.post(page, data={"_csrf_token": token, "action": "preview", **fields})


def test_preview_remap_and_import(stack: Stack) -> None:
    email, org = new_user(stack)
    key = stack.new_org_key(org)
    seeded = stack.post_import(
        {"contacts": [{"name": "José", "phoneNumber": "+34612345678"}]}, key
    ).json()["importId"]
    stack.wait_for_terminal(seeded, key)
    client, token = signed_in(stack, email)
    with closing(client):
        page = store(client, token, "clientes.csv", SPANISH, audienceId="aud_es")

        # The guess knows no Spanish: every column is metadata, so no dry run yet.
        first = client.get(page)
        assert first.status_code == 422, first.text
        assert "Read as Windows-1252 (Western European, Latin-1) (detected)." in first.text
        assert "<td>José Muñoz</td>" in first.text
        assert "<td>Logroño</td>" in first.text
        assert ERROR.search(first.text)[1] == (  # type: ignore[index]
            "clientes.csv, header: no name or phoneNumber column (found: &#39;Nombre&#39;, "
            "&#39;Móvil&#39;, &#39;Idioma&#39;, &#39;Ciudad&#39;, &#39;Notas&#39;). Name the "
            "columns as in name: one of name, full name, Name; phoneNumber: one of phoneNumber, "
            "phone, phone_number, Phone Number, mobile (any case)."
        )
        assert 'value="aud_es"' in first.text  # the form's options came along

        mapped = again(client, token, page, **MAPPED, mode="upsert", audienceId="aud_es")
        assert mapped.status_code == 200, mapped.text
        assert counts(mapped) == {"create": 1, "update": 1, "skip": 0, "fail": 2}
        assert CODES.findall(mapped.text) == [("invalid_tag", "1 row"), ("missing_plus", "1 row")]
        assert "Import 4 contacts" in mapped.text

        spain = again(client, token, page, **MAPPED, defaultCountry="es", mode="upsert")
        assert counts(spain) == {"create": 2, "update": 1, "skip": 0, "fail": 1}
        create_only = again(client, token, page, **MAPPED, defaultCountry="ES", mode="createOnly")
        assert counts(create_only) == {"create": 2, "update": 0, "skip": 1, "fail": 1}

        confirmed = client.post(
            page,
            data={"_csrf_token": token, "action": "import", **MAPPED, "defaultCountry": "es",
                  "mode": "upsert", "audienceId": "aud_es"},
        )  # fmt: skip
        assert confirmed.status_code == 303, confirmed.text
        import_id = confirmed.headers["location"].rsplit("/", 1)[1]
        assert confirmed.headers["location"] == f"/ui/imports/{import_id}"
        status = stack.wait_for_terminal(import_id, key)
        assert {k: status[k] for k in ("total", "created", "updated", "skipped", "failed")} == {
            "total": 4, "created": 2, "updated": 1, "skipped": 0, "failed": 1,
        }  # fmt: skip
        errors = list(
            csv.reader(io.StringIO(client.get(f"/ui/imports/{import_id}/errors.csv").text))
        )
        assert [row[:4] for row in errors[1:]] == [["3", "5", "language", "invalid_tag"]]
        failed = list(
            csv.reader(io.StringIO(client.get(f"/ui/imports/{import_id}/failed-rows.csv").text))
        )
        # Mapped fields, Ciudad kept as metadata, Notas dropped.
        assert failed[0] == ["name", "phoneNumber", "language", "Ciudad", "errors"]
        assert failed[1][:4] == ["Ana", "+34612345671", "xx-", "Madrid"]
        assert "clientes.csv" in client.get("/ui/imports").text

        gone = client.get(page)  # imported: the draft is deleted
        assert gone.status_code == 404
        assert "This preview is gone" in gone.text


def test_a_draft_is_only_its_users(stack: Stack) -> None:
    email, org = new_user(stack)
    colleague, _ = new_user(stack, org)
    client, token = signed_in(stack, email)
    other, other_token = signed_in(stack, colleague)
    with closing(client), closing(other):
        page = store(client, token, "c.csv", b"name,phone\nAna,+34612345678\n")
        assert client.get(page).status_code == 200
        for response in (other.get(page), again(other, other_token, page)):
            assert response.status_code == 404
            assert "This preview is gone" in response.text
        assert client.get(page).status_code == 200  # still there for its owner


def test_files_as_people_have_them(stack: Stack) -> None:
    email, _org = new_user(stack)
    client, token = signed_in(stack, email)
    unicode_text = b"\xff\xfe" + (
        "Name\tPhone\tCity\r\n"
        "Zoë Ångström\t+46701234567\tMalmö\r\n"
        "Jürgen Groß\t+4915112345678\tKöln\r\n"
    ).encode("utf-16-le")
    with closing(client):
        page = client.get(store(client, token, "unicode.txt", unicode_text))
        assert page.status_code == 200, page.text
        assert "Read as UTF-16 (detected)." in page.text
        assert "<td>Zoë Ångström</td>" in page.text
        assert "<td>Jürgen Groß</td>" in page.text
        assert counts(page) == {"create": 2, "update": 0, "skip": 0, "fail": 0}

        czech = "name,phone\nJiří Dvořák,+420601123456\n".encode("cp1250")
        address = store(client, token, "cz.csv", czech)
        assert "<td>Jiøí Dvoøák</td>" in client.get(address).text  # the tie goes to 1252
        named = again(client, token, address, encoding="cp1250")
        assert "Read as Windows-1250 (Central European)." in named.text
        assert "<td>Jiří Dvořák</td>" in named.text

        quote = b'name,phone\nAna,+34612345678\n"Ben,+34612345679\nCid,+34612345670\n'
        broken = client.get(store(client, token, "quote.csv", quote))
        assert broken.status_code == 422
        assert ERROR.search(broken.text)[1] == (  # type: ignore[index]
            "quote.csv, line 3: a quoted field starts on this line and is never closed; add the "
            "closing quote (&#34;) or remove the opening one."
        )
        assert 'id="import-button"' not in broken.text


def test_files_no_reader_takes_show_the_form_again(stack: Stack) -> None:
    email, _org = new_user(stack)
    client, token = signed_in(stack, email)
    with closing(client):
        response = client.post(
            "/ui/imports/preview", files={"file": ("photo.png", b"\x89PNG")},
            data={"_csrf_token": token},
        )  # fmt: skip
        assert response.status_code == 415
        assert (
            "photo.png: .png files cannot be imported; upload a CSV, Excel (.xlsx) or JSON file"
            in response.text
        )
        assert 'id="upload-form"' in response.text
        empty = client.post(
            "/ui/imports/preview", files={"file": ("e.csv", b"")}, data={"_csrf_token": token}
        )
        assert empty.status_code == 422
        assert "e.csv: the file is empty." in empty.text
        forged = client.post("/ui/imports/preview", files={"file": ("c.csv", b"name,phone\n")})
        assert forged.status_code == 403
        assert "The form expired" in forged.text
