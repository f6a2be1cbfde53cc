"""Organizations are walled off: another organization's import is indistinguishable from none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.api_support import SEED_BODY, assert_problem, fresh_org
from tests.stack import Stack

pytestmark = pytest.mark.integration

ENDPOINTS = ["status", "errors", "errors?format=csv", "errors?page=2&limit=5", "webhook-deliveries"]
UNKNOWN_ID = "imp_000000000000000000000000"
# Headers that differ between any two responses, whatever they answer.
VOLATILE_HEADERS = {"date", "content-length"}


@dataclass
class Tenants:
    a: httpx.Client
    b: httpx.Client
    a_import: str


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> Iterator[Tenants]:
    with (
        stack.client(fresh_org(stack, "tenant-a")) as a,
        stack.client(fresh_org(stack, "tenant-b")) as b,
    ):
        accepted = a.post("/v1/imports/api/bulk", json=SEED_BODY)
        assert accepted.status_code == 202, accepted.text
        yield Tenants(a, b, accepted.json()["importId"])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_owner_sees_its_import(tenants: Tenants, endpoint: str) -> None:
    response = tenants.a.get(f"/v1/imports/{tenants.a_import}/{endpoint}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_other_org_gets_the_same_404_as_for_a_missing_import(
    tenants: Tenants, endpoint: str
) -> None:
    foreign = tenants.b.get(f"/v1/imports/{tenants.a_import}/{endpoint}")
    missing = tenants.b.get(f"/v1/imports/{UNKNOWN_ID}/{endpoint}")
    body = assert_problem(foreign, 404, "not-found")
    assert_problem(missing, 404, "not-found")

    # Identical but for the id the caller sent itself.
    assert foreign.text.replace(tenants.a_import, UNKNOWN_ID) == missing.text
    assert body["detail"].count(tenants.a_import) == 1

    def stable(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k not in VOLATILE_HEADERS}

    assert stable(foreign).keys() == stable(missing).keys()
    assert foreign.headers["content-type"] == missing.headers["content-type"]


def test_other_orgs_imports_stay_out_of_history(tenants: Tenants) -> None:
    own = tenants.a.get("/v1/imports").json()
    assert [item["id"] for item in own["data"]] == [tenants.a_import]
    foreign = tenants.b.get("/v1/imports", params={"limit": 100}).json()
    assert foreign["total"] == 0
    assert foreign["data"] == []
