"""The OpenAPI document and its interactive page, served by the API without a key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import phonenumbers
import pytest

from tests.stack import Stack
from transforms.errors import RowErrorCode

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


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def examples_in(node: Any) -> Iterator[Any]:
    """Every `example` and each of `examples` anywhere under `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield value
            elif key == "examples" and isinstance(value, list):
                yield from value
            else:
                yield from examples_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from examples_in(value)


def test_the_document_reads_as_written_by_people(anonymous: httpx.Client) -> None:
    """An introduction; one style of summary; real examples only (a problem's example has the
    status of its response; nothing generated); the allowed values of every status and code."""
    document = anonymous.get("/schema/openapi.json").json()
    intro = document["info"]["description"]
    for part in ("**Authentication.**", "**Limits.**", "**Statuses.**", "**Large datasets.**"):
        assert part in intro
    for method, path, operation in operations(document):
        summary = operation["summary"]
        assert summary[0].isupper(), (method, path, summary)
        assert " " in summary, (method, path, summary)  # a sentence, not the operation id
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/problem+json")
            if content:
                (example,) = content["examples"].values()
                assert example["value"]["status"] == int(status), (method, path, status)
    # Generated examples were 20 random letters; none is left anywhere.
    noise = [
        value
        for value in examples_in(document)
        if isinstance(value, str) and len(value) == 20 and value.isalpha()
    ]
    assert noise == []
    bulk = document["paths"]["/v1/imports/api/bulk"]["post"]
    body = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert body["example"]["webhookUrl"] == "https://example.com/webhooks/import-done"
    (dry_run,) = bulk["responses"]["200"]["content"]["application/json"]["examples"].values()
    report = dry_run["value"]
    assert report["total"] == sum(
        report[count] for count in ("created", "updated", "skipped", "failed")
    )
    assert [row["action"] for row in report["diff"]] == ["update", "create", "fail"]
    schemas = document["components"]["schemas"]
    statuses = ["PENDING", "PROCESSING", "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "REVERTED"]
    for view in ("ImportStatusView", "ImportSummary", "ImportPhoneSummary"):
        assert schemas[view]["properties"]["status"]["enum"] == statuses
    assert schemas["RowError"]["properties"]["code"]["enum"] == [
        code.value for code in RowErrorCode
    ]


def test_the_upload_is_shown_as_the_ui_s_multipart_form(anonymous: httpx.Client) -> None:
    document = anonymous.get("/schema/openapi.json").json()
    upload = document["paths"]["/v1/imports/upload"]["post"]
    assert upload["security"] == [{"session": []}]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"] == {**form["properties"]["file"], "format": "binary"}
    session = document["components"]["securitySchemes"]["session"]
    assert session == {"type": "apiKey", "name": "oliai_session", "in": "cookie"}
