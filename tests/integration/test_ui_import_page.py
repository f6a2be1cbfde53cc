"""The Contacts UI's import page over HTTP: errors grouped by what went wrong in plain words,
filtered by code and paged past the first 100, rows of the file counted from 1, duplicates
within the file, and the completion webhook's delivery state (a real receiver on 127.0.0.1)."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest

from tests.receiver import WebhookReceiver
from tests.stack import Stack
from tests.ui_support import new_user, page_when, signed_in

pytestmark = pytest.mark.integration

# 150 numbers without + (missing_plus), 30 with a malformed language, 3 repeating a number of an
# earlier row, 17 clean: 200 rows after the header, which is line 1 of the file.
LINES = (
    ["name,phone,language"]
    + [f"No Plus {i},34612{i:06d},es" for i in range(150)]
    + [f"Bad Tag {i},+34622{i:06d},xx-" for i in range(30)]
    + [f"Twice {i},+34633000000,es" for i in range(4)]
    + [f"Clean {i},+34644{i:06d},es" for i in range(16)]
)


def uploaded(client: httpx.Client, token: str, webhook_url: str) -> str:
    response = client.post(
        "/v1/imports/upload",
        files={"file": ("people.csv", "\n".join(LINES).encode())},
        data={"webhookUrl": webhook_url},
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["importId"])


def cells(page: str, label: str) -> list[str]:
    return re.findall(rf'data-label="{label}">(?:<code>)?([^<]*)', page)


def test_errors_people_can_act_on(stack: Stack) -> None:
    email, org = new_user(stack)
    client, token = signed_in(stack, email)
    with closing(client), WebhookReceiver(stack.webhook_secret(org)) as receiver:
        import_id = uploaded(client, token, receiver.url)
        receiver.wait_for(1, timeout_s=120)
        path = f"/ui/imports/{import_id}"
        page = page_when(client, path, 'data-state="delivered"')
        assert re.search(r'id="webhook-state"[^>]*>Sent \(HTTP 200\) after 1 attempt\.<', page)
        assert '<dd id="count-duplicates"' in page
        assert re.search(r'id="count-duplicates"[^>]*>3<', page)
        groups = re.findall(r"<strong>([^<]+)</strong>: ([^<]+)</a> <code>(\w+)</code>", page)
        assert groups == [
            ("150 rows", "phone number without country code — set a default country or add +",
             "missing_plus"),
            ("30 rows", "the language is not a language tag such as en, hi-IN or pt-BR — fix or "
             "leave it empty", "invalid_tag"),
        ]  # fmt: skip
        # The first page: 100 errors, file rows counted as a person does (header = line 1).
        assert cells(page, "Row in your file")[:2] == ["2", "3"]
        assert len(cells(page, "Row in your file")) == 100
        assert "page 1 of 2" in page
        second = client.get(path, params={"errorsPage": 2}).text
        assert cells(second, "Row in your file") == [str(line) for line in range(102, 182)]
        tags = client.get(path, params={"code": "invalid_tag"}).text
        assert set(cells(tags, "Code")) == {"invalid_tag"}
        assert cells(tags, "Row in your file") == [str(line) for line in range(152, 182)]
        assert "Showing errors <code>invalid_tag</code> (30)" in tags
        wrong = client.get(path, params={"code": "no_such_code"})
        assert wrong.status_code == 400
        assert "This address is not valid" in wrong.text
