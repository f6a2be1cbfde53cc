"""docs/api.md#dry-run over HTTP on the session stack: what each row would do against the
organization's contacts, in each mode, and the import then doing exactly that."""

from __future__ import annotations

import copy
import json
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.api_support import BULK
from tests.stack import Stack

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"

PRIYA, RAVI, LEO = "+919876543210", "+442079460958", "+14155552671"
SEED = [
    {"name": "Priya", "phoneNumber": PRIYA, "language": "hi-IN", "city": "Delhi", "vip": 1},
    {"name": "Ravi", "phoneNumber": RAVI},
]
# Priya changed, Ravi unchanged, Leo new and then repeated, one failing row.
BATCH = [
    {"name": "Priya Sharma", "phoneNumber": PRIYA, "city": "Pune", "vip": True},
    {"name": "Ravi", "phoneNumber": RAVI},
    {"name": "Leo", "phoneNumber": LEO, "tier": "gold"},
    {"name": "", "phoneNumber": "12"},
    {"name": "Leo B.", "phoneNumber": "+1 415 555 2671", "language": "en-US", "tier": "gold"},
]
FAIL = {
    "rowIndex": 3,
    "action": "fail",
    "phoneNumber": None,
    "changes": [],
    "errors": [
        {"field": "name", "code": "empty", "message": "name is empty or only whitespace"},
        {
            "field": "phoneNumber",
            "code": "missing_plus",
            "message": "phoneNumber must start with + and the country calling code, e.g. "
            "+919876543210, or the import must name a defaultCountry",
        },
    ],
}


def change(field: str, old: Any, new: Any, key: str | None = None) -> dict[str, Any]:
    return {"field": field, "key": key, "old": old, "new": new}


def row(index: int, action: str, phone: str, *changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "rowIndex": index,
        "action": action,
        "phoneNumber": phone,
        "changes": list(changes),
        "errors": [],
    }


PRIYA_CHANGES = (
    change("name", "Priya", "Priya Sharma"),
    change("metadata", "Delhi", "Pune", "city"),
    change("metadata", 1, True, "vip"),
)
LEO_CREATED = (change("name", None, "Leo"), change("metadata", None, "gold", "tier"))
LEO_REPEATED = (change("name", "Leo", "Leo B."), change("language", None, "en-US"))
# mode -> (the diff, its totals: created, updated, skipped, failed)
EXPECTED: dict[str, tuple[list[dict[str, Any]], tuple[int, int, int, int]]] = {
    "upsert": (
        [
            row(0, "update", PRIYA, *PRIYA_CHANGES),
            row(1, "update", RAVI),  # the same values: rewritten and counted updated
            row(2, "create", LEO, *LEO_CREATED),
            FAIL,
            row(4, "update", LEO, *LEO_REPEATED),  # against row 2's values
        ],
        (1, 3, 0, 1),
    ),
    "createOnly": (
        [
            row(0, "skip", PRIYA),
            row(1, "skip", RAVI),
            row(2, "create", LEO, *LEO_CREATED),
            FAIL,
            row(4, "update", LEO, *LEO_REPEATED),
        ],
        (1, 1, 2, 1),
    ),
    "updateOnly": (
        [
            row(0, "update", PRIYA, *PRIYA_CHANGES),
            row(1, "update", RAVI),
            row(2, "skip", LEO),
            FAIL,
            row(4, "skip", LEO),
        ],
        (0, 2, 2, 1),
    ),
}


def imported(stack: Stack, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.post_import(body, key)
    assert response.status_code == 202, response.text
    return stack.wait_for_terminal(response.json()["importId"], key)


def contacts_of(stack: Stack, org: str) -> dict[str, dict[str, Any]]:
    rows = stack.query(
        "SELECT phone_number, name, language, metadata::VARCHAR AS metadata FROM contacts "
        f"WHERE org_id = '{org}'"
    )
    return {
        r["phone_number"]: {
            "name": r["name"],
            "language": r["language"],
            "metadata": json.loads(r["metadata"]),
        }
        for r in rows
    }


def applied(before: dict[str, dict[str, Any]], diff: list[dict[str, Any]]) -> dict[str, Any]:
    """The contacts after the diff's `new` values, in order, over `before`."""
    after = copy.deepcopy(before)
    for entry in diff:
        if entry["action"] in ("create", "update"):
            contact = after.setdefault(
                entry["phoneNumber"], {"name": None, "language": None, "metadata": {}}
            )
            for item in entry["changes"]:
                if item["field"] == "metadata":
                    contact["metadata"][item["key"]] = item["new"]
                else:
                    contact[item["field"]] = item["new"]
    return after


@pytest.mark.parametrize("mode", ["upsert", "createOnly", "updateOnly"])
def test_a_dry_run_diffs_each_row_and_the_import_then_does_exactly_that(
    stack: Stack, mode: str
) -> None:
    org = f"dry-diff-{mode.lower()}-{secrets.token_hex(3)}"
    key = stack.new_org_key(org)
    assert imported(stack, key, {"contacts": SEED})["status"] == "COMPLETED"
    before = contacts_of(stack, org)
    body = {"mode": mode, "contacts": BATCH}

    with stack.client(key) as client:
        response = client.post(BULK, params={"dryRun": "true"}, json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    diff, (created, updated, skipped, failed) = EXPECTED[mode]
    assert report["diff"] == diff
    totals = {"created": created, "updated": updated, "skipped": skipped, "failed": failed}
    assert {name: report[name] for name in totals} == totals
    assert contacts_of(stack, org) == before  # nothing written

    status = imported(stack, key, body)
    assert {name: status[name] for name in totals} == totals
    assert contacts_of(stack, org) == applied(before, diff)


def test_a_new_organization_creates_every_number(stack: Stack) -> None:
    with stack.client(stack.new_org_key(f"dry-new-{secrets.token_hex(3)}")) as client:
        report = client.post(BULK, params={"dryRun": "true"}, json={"contacts": SEED}).json()
    assert report["diff"] == [
        row(
            0,
            "create",
            PRIYA,
            change("name", None, "Priya"),
            change("language", None, "hi-IN"),
            change("metadata", None, "Delhi", "city"),
            change("metadata", None, 1, "vip"),
        ),
        row(1, "create", RAVI, change("name", None, "Ravi")),
    ]
    assert (report["created"], report["updated"], report["skipped"]) == (2, 0, 0)


def doc_section(title: str) -> str:
    return DOCS.read_text().split(f"\n### {title}")[1].split("\n### ")[0]


def curl_body(section: str) -> dict[str, Any]:
    (body,) = re.findall(r"-d '(.*?)'\n", section, re.DOTALL)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def test_the_documented_example(stack: Stack) -> None:
    key = stack.new_org_key(f"dry-docs-{secrets.token_hex(3)}")
    # The contact the reference's first example imports (without its audience and webhook).
    seed = curl_body(doc_section("`POST /v1/imports/api/bulk`"))["contacts"]
    assert imported(stack, key, {"contacts": seed})["status"] == "COMPLETED"
    section = doc_section("Dry run")
    *_, documented = re.findall(r"```json\n(.*?)```", section, re.DOTALL)
    expected = json.loads(documented)
    with stack.client(key) as client:
        response = client.post(BULK, params={"dryRun": "true"}, json=curl_body(section))
    assert response.status_code == 200, response.text
    assert {name: response.json()[name] for name in expected} == expected


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema, following one `$ref` into the document's components."""
    if "$ref" in schema:
        resolved: dict[str, Any] = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
        return resolved
    return schema


def test_the_openapi_document_shows_the_new_fields_and_their_values(stack: Stack) -> None:
    document = httpx.get(f"{stack.api_url}/schema/openapi.json").json()
    schemas = document["components"]["schemas"]
    report = schemas["DryRunReport"]
    assert {"created", "updated", "skipped", "diff"} <= set(report["required"])
    diff = _resolved(document, schemas["RowDiff"]["properties"]["action"])
    assert diff["enum"] == ["create", "update", "skip", "fail"]
    field = _resolved(document, schemas["FieldChange"]["properties"]["field"])
    assert field["enum"] == ["name", "language", "metadata"]
