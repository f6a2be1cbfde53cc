"""API keys: who gets in, who gets 401, and the UI-only upload's 403."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.api_support import BULK, SEED_BODY, assert_problem, fresh_org
from tests.stack import Stack

pytestmark = pytest.mark.integration

# Every /v1 operation; the import id need not exist, authentication comes first.
OPERATIONS = [
    ("POST", BULK),
    ("GET", "/v1/imports"),
    ("GET", "/v1/imports/imp_0000/status"),
    ("GET", "/v1/imports/imp_0000/errors"),
    ("GET", "/v1/imports/imp_0000/webhook-deliveries"),
    ("POST", "/v1/imports/upload"),
]


@pytest.fixture(scope="module")
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        yield client


def assert_unauthorized(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_missing_key_is_401_on_every_operation(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    assert_unauthorized(anonymous.request(method, path, json=SEED_BODY))


def test_missing_key_is_401_before_the_body_is_judged(anonymous: httpx.Client) -> None:
    response = anonymous.post(BULK, content=b"{x", headers={"Content-Type": "text/plain"})
    assert_unauthorized(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer oliai_" + "A" * 43,  # well-formed, unknown
        "Bearer",
        "Bearer !!garbage!! with spaces",
        "Basic dXNlcjpwYXNz",
        "Token oliai_" + "A" * 43,
        "oliai_" + "A" * 43,
    ],
)
def test_unknown_or_malformed_authorization_is_401(
    anonymous: httpx.Client, authorization: str
) -> None:
    assert_unauthorized(anonymous.get("/v1/imports", headers={"Authorization": authorization}))


def test_non_ascii_key_is_401(anonymous: httpx.Client) -> None:
    headers = {"Authorization": "Bearer oliai_clé_ключ".encode()}
    assert_unauthorized(anonymous.get("/v1/imports", headers=headers))


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_10_kb_key_is_401(anonymous: httpx.Client, header: str) -> None:
    key = "oliai_" + "k" * 10_000
    value = f"Bearer {key}" if header == "Authorization" else key
    assert_unauthorized(anonymous.get("/v1/imports", headers={header: value}))


def test_unknown_x_api_key_is_401(anonymous: httpx.Client) -> None:
    response = anonymous.get("/v1/imports", headers={"X-API-Key": "oliai_" + "B" * 43})
    assert_unauthorized(response)


def test_bearer_key_and_case_insensitive_scheme_accepted(
    anonymous: httpx.Client, stack: Stack
) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {stack.api_key}"}
        response = anonymous.get("/v1/imports", headers=headers)
        assert response.status_code == 200, response.text


def test_x_api_key_accepted(anonymous: httpx.Client, stack: Stack) -> None:
    headers = {"X-API-Key": fresh_org(stack, "x-api-key")}
    listed = anonymous.get("/v1/imports", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    # Past authentication: an unknown import is 404, not 401.
    missing = anonymous.get("/v1/imports/imp_0000/status", headers=headers)
    assert_problem(missing, 404, "not-found")


def test_revoked_key_is_401_at_once_and_other_keys_keep_working(
    anonymous: httpx.Client, stack: Stack
) -> None:
    org = f"api-revoke-{secrets.token_hex(3)}"
    new = stack.oliai("keys", "create", "--org", org, "--create-org", "--json")
    created = [json.loads(new.stdout)]
    # A second key of the same organization, which exists now: no --create-org.
    created.append(json.loads(stack.oliai("keys", "create", "--org", org, "--json").stdout))
    doomed, kept = ({"Authorization": f"Bearer {item['apiKey']}"} for item in created)
    assert anonymous.get("/v1/imports", headers=doomed).status_code == 200

    revoked = stack.oliai("keys", "revoke", created[0]["keyId"])
    assert revoked.returncode == 0, revoked.stderr

    assert_unauthorized(anonymous.get("/v1/imports", headers=doomed))
    assert_unauthorized(anonymous.post(BULK, json=SEED_BODY, headers=doomed))
    assert anonymous.get("/v1/imports", headers=kept).status_code == 200
    listed = json.loads(stack.oliai("keys", "list", "--org", org, "--json").stdout)
    revoked_at = {item["keyId"]: item["revokedAt"] for item in listed}
    assert revoked_at[created[0]["keyId"]] is not None
    assert revoked_at[created[1]["keyId"]] is None
    assert all(
        item["apiKey"] not in stack.oliai("keys", "list", "--org", org).stdout for item in created
    )


def test_health_needs_no_key(anonymous: httpx.Client) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


def test_upload_with_a_key_is_403_pointing_at_the_bulk_endpoint(stack: Stack) -> None:
    with stack.client() as client:
        response = client.post(
            "/v1/imports/upload",
            files={"file": ("contacts.csv", b"name,phoneNumber\nA,+14155550100\n", "text/csv")},
        )
    body = assert_problem(response, 403, "upload-not-available")
    assert "/v1/imports/api/bulk" in body["detail"]
    assert "UI" in body["detail"]
