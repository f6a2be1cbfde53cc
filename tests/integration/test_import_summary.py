"""`GET /v1/imports/{id}/summary` over HTTP on the session stack: the status fields and the
import's valid rows counted by phone type and region, as phonenumbers says of each number; kept
in the lake, so they outlive `oliai prune`."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from client.imports_client import ImportsClient
from orchestration.maintenance.retention import prunable_imports, prune_imports
from tests.integration.api_support import assert_problem
from tests.phone_corpus import FEW_REGIONS, realistic
from tests.stack import Stack, daemon_paused

pytestmark = pytest.mark.integration

# Mobile, fixed line, toll free and non-geographic numbers of several countries, one written
# twice, and rows that fail; then enough numbers (some invalid) for the vectorized path.
MIXED: list[dict[str, Any]] = [
    {"name": "Priya", "phoneNumber": "+91 98765 43210"},
    {"name": "Priya again", "phoneNumber": "+919876543210"},
    {"name": "Ravi", "phoneNumber": "+44 20 7946 0958"},
    {"name": "Free", "phoneNumber": "+1 800 234 5678"},
    {"name": "Anna", "phoneNumber": "+49 1512 3456789"},
    {"name": "Leo", "phoneNumber": "+1 415 555 2671"},
    {"name": "World", "phoneNumber": "+800 1234 5678"},
    {"name": "No plus", "phoneNumber": "98765 43210"},
    {"name": "", "phoneNumber": "+34612345678"},
    *(
        {"name": f"C{i}", "phoneNumber": key}
        for i, key in enumerate(realistic(150, seed=11, regions=FEW_REGIONS))
    ),
]


def _expected(rows: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int], int]:
    """phonenumbers' type and region of each valid row's number, counted; and the failed rows
    (a bad name, or a number that is not + and a valid number)."""
    types: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    failed = 0
    for row in rows:
        raw = row["phoneNumber"].strip()
        try:
            number = phonenumbers.parse(raw) if raw.startswith("+") else None
        except phonenumbers.NumberParseException:
            number = None
        if not row["name"] or number is None or not phonenumbers.is_valid_number(number):
            failed += 1
            continue
        types[str(PhoneNumberType.to_string(phonenumbers.number_type(number))).lower()] += 1
        regions[str(phonenumbers.region_code_for_number(number))] += 1
    return dict(types), dict(regions), failed


@pytest.fixture(scope="module")
def imported(stack: Stack) -> tuple[str, str]:
    """(API key, import id) of an ended import of MIXED in an organization of its own."""
    key = stack.new_org_key(f"summary-{secrets.token_hex(3)}")
    response = stack.post_import({"contacts": MIXED}, key)
    assert response.status_code == 202, response.text
    import_id = response.json()["importId"]
    stack.wait_for_terminal(import_id, key)
    return key, import_id


def test_the_summary_counts_valid_rows_by_phone_type_and_region(
    stack: Stack, imported: tuple[str, str]
) -> None:
    key, import_id = imported
    types, regions, failed = _expected(MIXED)
    assert {"mobile", "fixed_line", "toll_free"} <= set(types)
    assert {"IN", "GB", "US", "DE", "001"} <= set(regions)
    with stack.client(key) as client:
        status = client.get(f"/v1/imports/{import_id}/status").json()
        response = client.get(f"/v1/imports/{import_id}/summary")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary == {**status, "phoneTypes": types, "phoneRegions": regions}
    assert status["failed"] == failed
    assert sum(types.values()) == sum(regions.values()) == status["total"] - failed
    with ImportsClient(stack.api_url, key) as python_client:  # the Python client reads the same
        read = python_client.get_summary(import_id)
    assert (read.phone_types, read.phone_regions, read.failed) == (types, regions, failed)


def test_the_summary_outlives_prune(stack: Stack, imported: tuple[str, str]) -> None:
    key, import_id = imported
    with stack.client(key) as client:
        before = client.get(f"/v1/imports/{import_id}/summary").json()
    # What `oliai prune` deletes once the run is old enough: the landing body, the staged rows.
    with stack.instance() as instance:
        settings = stack.settings
        pruned = [
            item
            for item in prunable_imports(
                instance,
                settings.landing_dir,
                settings.staging_dir,
                older_than=timedelta(days=1),
                now=datetime.now(UTC) + timedelta(days=2),
            )
            if item.import_id == import_id
        ]
    assert len(pruned) == 1
    prune_imports(pruned)
    assert not any(path.exists() for path in pruned[0].paths)
    with stack.client(key) as client:
        after = client.get(f"/v1/imports/{import_id}/summary")
    assert after.status_code == 200, after.text
    assert after.json() == before


def test_another_organizations_or_an_unknown_import_is_not_found(
    stack: Stack, imported: tuple[str, str]
) -> None:
    key, import_id = imported
    with stack.client(stack.new_org_key(f"summary-other-{secrets.token_hex(3)}")) as client:
        assert_problem(client.get(f"/v1/imports/{import_id}/summary"), 404, "not-found")
    with stack.client(key) as client:
        unknown = client.get("/v1/imports/imp_000000000000000000000000/summary")
    assert_problem(unknown, 404, "not-found")


def test_before_its_rows_are_checked_the_summary_is_a_409(stack: Stack) -> None:
    key = stack.new_org_key(f"summary-early-{secrets.token_hex(3)}")
    with daemon_paused(stack), stack.client(key) as client:
        import_id = client.post("/v1/imports/api/bulk", json={"contacts": MIXED[:3]}).json()[
            "importId"
        ]
        early = client.get(f"/v1/imports/{import_id}/summary")
    assert_problem(early, 409, "rows-not-checked")
    assert early.headers["retry-after"] == "1"
    stack.wait_for_terminal(import_id, key)
    with stack.client(key) as client:
        assert client.get(f"/v1/imports/{import_id}/summary").json()["phoneTypes"] == {
            "fixed_line": 1,  # phonenumbers: +44 20 7946 0958
            "mobile": 2,  # +91 98765 43210, twice
        }


def test_the_openapi_document_shows_the_counts_and_the_types_they_may_name(stack: Stack) -> None:
    with stack.client() as client:
        document = client.get("/schema/openapi.json").json()
    operation = document["paths"]["/v1/imports/{import_id}/summary"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert {"status", "total", "failed", "phoneTypes", "phoneRegions"} <= set(schema["required"])
    described = schema["properties"]["phoneTypes"]["description"]
    named = [str(PhoneNumberType.to_string(kind)).lower() for kind in PhoneNumberType.values()]
    assert [kind for kind in named if f"`{kind}`" in described] == [
        kind for kind in named if kind != "unknown"
    ]
    assert "`001`" in schema["properties"]["phoneRegions"]["description"]
    assert set(operation["responses"]) >= {"200", "401", "404", "409", "429"}
