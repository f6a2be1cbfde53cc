"""docs/api.md#import-options over HTTP on the session stack: what each option does to the
stored contacts and the counts, and the problems a bad option gets."""

from __future__ import annotations

import json
import secrets
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api_support import BULK, assert_problem
from tests.stack import OLIAI, Stack
from tests.ui_support import new_user, signed_in

pytestmark = pytest.mark.integration

# docs/api.md's example, as its curl sends it.
DOCUMENTED = {
    "defaultCountry": "IN",
    "contacts": [
        {"name": "Priya", "phoneNumber": "098765 43210"},
        {"name": "Leo", "phoneNumber": "+1 415 555 2671"},
        {"name": "Anna", "phoneNumber": "12"},
    ],
}


def imported(stack: Stack, key: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    with stack.client(key) as client:
        response = client.post(BULK, json=body)
    assert response.status_code == 202, response.text
    import_id = response.json()["importId"]
    return import_id, stack.wait_for_terminal(import_id, key)


def stored(stack: Stack, org: str) -> dict[str, str]:
    rows = stack.query(f"SELECT name, phone_number FROM contacts WHERE org_id = '{org}'")
    return {row["name"]: row["phone_number"] for row in rows}


def test_the_documented_default_country_example(stack: Stack) -> None:
    org = f"options-country-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    import_id, status = imported(stack, key, DOCUMENTED)
    assert status["status"] == "COMPLETED_WITH_ERRORS"
    assert (status["total"], status["created"], status["failed"]) == (3, 2, 1)
    assert stored(stack, org) == {"Priya": "+919876543210", "Leo": "+14155552671"}
    with stack.client(key) as client:
        errors = client.get(f"/v1/imports/{import_id}/errors").json()["data"]
    assert [(e["rowIndex"], e["code"], e["value"]) for e in errors] == [(2, "too_short", "12")]


def test_a_dry_run_reads_the_country_too(stack: Stack) -> None:
    with stack.client() as client:
        report = client.post(BULK, params={"dryRun": "true"}, json=DOCUMENTED).json()
    assert [row["phoneNumber"] for row in report["rows"]] == ["+919876543210", "+14155552671"]
    assert [error["code"] for error in report["errors"]] == ["too_short"]


def test_without_it_national_numbers_stay_missing_plus(stack: Stack) -> None:
    body = {"contacts": DOCUMENTED["contacts"]}
    with stack.client() as client:
        report = client.post(BULK, params={"dryRun": "true"}, json=body).json()
    assert [error["code"] for error in report["errors"]] == ["missing_plus", "missing_plus"]


@pytest.mark.parametrize(
    ("country", "detail"),
    [
        ("ZZ", "'ZZ' is not a country with a numbering plan (ISO 3166-1 alpha-2)"),
        ("IND", "Expected `str` matching regex '^[A-Z]{2}$'"),
        ("in", "Expected `str` matching regex '^[A-Z]{2}$'"),  # ISO's uppercase only
        ("", "Expected `str` matching regex '^[A-Z]{2}$'"),
        (91, "Expected `str | null`, got `int`"),
    ],
)
def test_a_bad_default_country_is_a_422_at_its_pointer(
    stack: Stack, country: object, detail: str
) -> None:
    with stack.client() as client:
        response = client.post(BULK, json={**DOCUMENTED, "defaultCountry": country})
    assert_problem(response, 422, "invalid-request", pointer="/defaultCountry")
    assert response.json()["errors"] == [{"pointer": "/defaultCountry", "detail": detail}]


def test_oliai_import_and_the_upload_form_send_the_default_country(
    stack: Stack, tmp_path: Path
) -> None:
    org = f"options-country-cli-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    path = tmp_path / "national.csv"
    path.write_text("name,phone\nPriya,098765 43210\nRavi,080 2345 6789\n", encoding="utf-8")
    command = [OLIAI, "import", str(path), "--api-url", stack.api_url, "--api-key", key]
    result = subprocess.run(
        [*command, "--default-country", "IN", "--json"],
        env=stack.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["created"] == 2
    assert stored(stack, org) == {"Priya": "+919876543210", "Ravi": "+918023456789"}
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("name,phone\nPriya S,+919876543210\nMeera,+919123456789\n", "utf-8")
    result = subprocess.run(
        [*command[:2], str(renamed), *command[3:], "--mode", "createOnly", "--json"],
        env=stack.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["totals"]
    assert (totals["created"], totals["updated"], totals["skipped"]) == (1, 0, 1)
    assert stored(stack, org)["Priya"] == "+919876543210"

    email, user_org = new_user(stack)
    user_key = stack.new_org_key(user_org)
    client, token = signed_in(stack, email)

    def uploaded(data: bytes, **fields: str) -> dict[str, Any]:
        response = client.post(
            "/v1/imports/upload",
            files={"file": ("contacts.csv", data)},
            data=fields,
            headers={"Accept": "application/json", "X-CSRFToken": token},
        )
        assert response.status_code == 202, response.text
        return stack.wait_for_terminal(response.json()["importId"], user_key)

    with closing(client):
        assert uploaded(b"name,phone\nAnna,030 901820\n", defaultCountry="de")["created"] == 1
        assert stored(stack, user_org) == {"Anna": "+4930901820"}
        status = uploaded(b"name,phone\nAnna B,+4930901820\nBen,+4930901821\n", mode="updateOnly")
    assert (status["created"], status["updated"], status["skipped"]) == (0, 1, 1)
    assert stored(stack, user_org) == {"Anna B": "+4930901820"}


def test_the_documented_create_only_example(stack: Stack) -> None:
    org = f"options-mode-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    imported(stack, key, {"contacts": [{"name": "Priya", "phoneNumber": "+919876543210"}]})
    body = {
        "mode": "createOnly",
        "contacts": [
            {"name": "Priya (new name)", "phoneNumber": "+919876543210"},
            {"name": "Ravi", "phoneNumber": "+919123456789"},
        ],
    }
    import_id, status = imported(stack, key, body)
    assert status["status"] == "COMPLETED"
    counted = ("total", "created", "updated", "skipped", "failed")
    assert tuple(status[field] for field in counted) == (2, 1, 0, 1, 0)
    assert stored(stack, org) == {"Priya": "+919876543210", "Ravi": "+919123456789"}
    (row,) = stack.query(
        f"SELECT skipped, mode, default_country FROM imports WHERE import_id = '{import_id}'"
    )
    assert row == {"skipped": 1, "mode": "createOnly", "default_country": None}
    with stack.client(key) as client:
        (listed,) = [i for i in client.get("/v1/imports").json()["data"] if i["id"] == import_id]
    assert listed["skipped"] == 1


def test_update_only_creates_nothing_and_skipped_rows_join_no_audience(stack: Stack) -> None:
    org = f"options-update-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    imported(stack, key, {"contacts": [{"name": "Priya", "phoneNumber": "+919876543210"}]})
    body = {
        "mode": "updateOnly",
        "audienceId": "aud_vip",
        "contacts": [
            {"name": "Priya Sharma", "phoneNumber": "+91 98765 43210", "tier": "gold"},
            {"name": "Ravi", "phoneNumber": "+919123456789"},
            {"name": "Ravi again", "phoneNumber": "+919123456789"},
            {"name": "", "phoneNumber": "+919000000001"},
        ],
    }
    _, status = imported(stack, key, body)
    assert status["status"] == "COMPLETED_WITH_ERRORS"
    counted = ("total", "created", "updated", "skipped", "failed")
    assert tuple(status[field] for field in counted) == (4, 0, 1, 2, 1)
    assert stored(stack, org) == {"Priya Sharma": "+919876543210"}
    members = stack.query(f"SELECT phone_number FROM audience_members WHERE org_id = '{org}'")
    assert members == [{"phone_number": "+919876543210"}]


@pytest.mark.parametrize("mode", ["insert", "CREATEONLY", None, 1])
def test_a_mode_off_the_list_is_a_422_at_its_pointer(stack: Stack, mode: object) -> None:
    with stack.client() as client:
        response = client.post(BULK, json={**DOCUMENTED, "mode": mode})
    assert_problem(response, 422, "invalid-request", pointer="/mode")
