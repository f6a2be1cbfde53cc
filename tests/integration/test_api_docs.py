"""The OpenAPI document and its interactive page, served by the API without a key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import phonenumbers
import pytest

from tests.stack import Stack

pytestmark = pytest.mark.integration

OPERATIONS = {
    ("post", "/v1/imports/api/bulk"): "createBulkImport",
    ("get", "/v1/imports"): "listImports",
    ("get", "/v1/imports/{import_id}/status"): "getImportStatus",
    ("get", "/v1/imports/{import_id}/summary"): "getImportSummary",
    ("get", "/v1/imports/{import_id}/errors"): "listImportErrors",
    ("get", "/v1/imports/{import_id}/failed-rows"): "listFailedRows",
    ("get", "/v1/imports/{import_id}/webhook-deliveries"): "listWebhookDeliveries",
    ("post", "/v1/imports/{import_id}/revert"): "revertImport",
    ("get", "/v1/imports/{import_id}/revert/kept"): "listRevertKept",
    ("post", "/v1/imports/upload"): "uploadImportFile",
    ("get", "/health"): "getHealth",
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30.0) as client:
        yield client


def test_openapi_document_lists_every_operation(anonymous: httpx.Client) -> None:
    response = anonymous.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["openapi"].startswith("3.")
    listed = {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    assert listed == OPERATIONS


def test_openapi_document_describes_the_bulk_contract(anonymous: httpx.Client) -> None:
    document = anonymous.get("/schema/openapi.json").json()
    bulk = document["paths"]["/v1/imports/api/bulk"]["post"]
    body_schema = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["contacts"]
    assert body_schema["properties"]["contacts"]["maxItems"] == 10_000
    # The import options (api.md#import-options) with their allowed values.
    assert body_schema["properties"]["mode"]["enum"] == ["upsert", "createOnly", "updateOnly"]
    assert body_schema["properties"]["mode"]["default"] == "upsert"
    country = body_schema["properties"]["defaultCountry"]["oneOf"]
    (codes,) = [choice["enum"] for choice in country if "enum" in choice]
    # Exactly the countries the API takes: those phonenumbers has a numbering plan for.
    assert codes == sorted(phonenumbers.SUPPORTED_REGIONS)
    assert {"IN", "US", "GB", "DE"} <= set(codes)
    status = document["components"]["schemas"]["ImportStatusView"]
    assert "skipped" in status["required"]
    assert "202" in bulk["responses"]
    for code in ("400", "401", "413", "415", "422"):
        assert "application/problem+json" in bulk["responses"][code]["content"], code
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"]["name"] == "X-API-Key"


def test_interactive_docs_page(anonymous: httpx.Client) -> None:
    response = anonymous.get("/schema")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "OliAI Contacts Imports API" in response.text
