"""HTTP at its edges, on the stack as `oliai up` starts it: what the server's parser rejects, odd
content types and codings, integer parameters, HEAD, key whitespace and stalled bodies. Every
answer is a precise problem document (RFC 9457), never uvicorn's plain text."""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.integration.api_support import BULK
from tests.stack import Stack

pytestmark = pytest.mark.integration

BODY = json.dumps({"contacts": [{"name": "Ann", "phoneNumber": "+14155550100"}]}).encode()
DRY_RUN = BULK + "?dryRun=true"


def raw_exchange(stack: Stack, request: bytes, piece_bytes: int | None = None) -> bytes:
    """Send bytes as they are (at once, or in pieces of `piece_bytes` sent one by one);
    everything the server answers until it closes the connection."""
    with socket.create_connection(("127.0.0.1", stack.api_port), timeout=60.0) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        step = piece_bytes or len(request)
        for start in range(0, len(request), step):
            sock.sendall(request[start : start + step])
            if piece_bytes:
                time.sleep(0.002)  # let each piece reach the server as its own read
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def problem_of(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v1/imports HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n",
        b"GET /v1/imports HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
        b"POST /v1/imports/api/bulk HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /v1/imports HTTP/1.1\r\nHost: x\r\nBad Header: yes\r\n\r\n",
    ],
    ids=["nul-in-header", "cr-in-header", "negative-content-length", "space-in-name"],
)
def test_requests_the_parser_rejects_get_a_problem(stack: Stack, request_bytes: bytes) -> None:
    status, headers, problem = problem_of(raw_exchange(stack, request_bytes))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/malformed-request"
    assert problem["status"] == 400


def url_request(stack: Stack, url_bytes: int) -> bytes:
    path = "/v1/imports?x="
    return (
        f"GET {path}{'a' * (url_bytes - len(path))} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {stack.api_key}\r\nConnection: close\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("piece_bytes", [None, 1024], ids=["at-once", "in-1-kib-pieces"])
def test_a_60_kib_url_is_served(stack: Stack, piece_bytes: int | None) -> None:
    raw = raw_exchange(stack, url_request(stack, 60 * 1024), piece_bytes)
    status, headers, body = problem_of(raw)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body["page"] == 1


@pytest.mark.parametrize("piece_bytes", [None, 1024], ids=["at-once", "in-1-kib-pieces"])
def test_a_head_over_64_kib_is_a_431_problem(stack: Stack, piece_bytes: int | None) -> None:
    raw = raw_exchange(stack, url_request(stack, 100_000), piece_bytes)
    status, headers, problem = problem_of(raw)
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/request-head-too-large"
    assert "64 KiB" in problem["detail"]


def post(stack: Stack, body: bytes, headers: list[tuple[str, str]]) -> httpx.Response:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        all_headers = [("Authorization", f"Bearer {stack.api_key}"), *headers]
        return client.post(DRY_RUN, content=body, headers=all_headers)


@pytest.mark.parametrize(
    ("headers", "body", "slug", "detail"),
    [
        (
            [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
            gzip.compress(BODY),
            "unsupported-encoding",
            "Content-Encoding 'gzip' is not decoded here: send the body uncompressed "
            "(no Content-Encoding header).",
        ),
        (
            [("Content-Type", "application/json"), ("Content-Encoding", "br")],
            BODY,
            "unsupported-encoding",
            "Content-Encoding 'br' is not decoded here: send the body uncompressed "
            "(no Content-Encoding header).",
        ),
        (
            [("Content-Type", "+json")],
            BODY,
            "unsupported-media-type",
            "Send the body as application/json, not '+json'.",
        ),
        (
            [("Content-Type", "application/json"), ("Content-Type", "text/plain")],
            BODY,
            "unsupported-media-type",
            "Send one Content-Type header, not 2: 'application/json', 'text/plain'.",
        ),
        (
            [("Content-Type", "application/json; charset=utf-16")],
            BODY,
            "unsupported-media-type",
            "JSON bodies are UTF-8; charset='utf-16' is not accepted.",
        ),
    ],
    ids=["gzip", "br", "plus-json-alone", "two-content-types", "utf-16"],
)
def test_bodies_we_cannot_read_as_sent_are_415(
    stack: Stack, headers: list[tuple[str, str]], body: bytes, slug: str, detail: str
) -> None:
    response = post(stack, body, headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "status": 415,
        "type": f"/problems/{slug}",
        "title": "Unsupported content encoding"
        if slug == "unsupported-encoding"
        else "Unsupported media type",
        "detail": detail,
    }


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "application/json; charset=UTF-8")],
        [("Content-Type", "application/vnd.oliai+json")],
        [("Content-Type", "application/json"), ("Content-Encoding", "identity")],
    ],
)
def test_json_as_the_docs_allow_is_accepted(stack: Stack, headers: list[tuple[str, str]]) -> None:
    response = post(stack, BODY, headers)
    assert response.status_code == 200, response.text
    assert response.json()["valid"] == 1


@pytest.mark.parametrize(
    ("query", "parameter", "value"),
    [
        ("page=1e3", "page", "1e3"),
        ("limit=2.0", "limit", "2.0"),
        ("page=%2B1", "page", "+1"),
        ("page=%201", "page", " 1"),
    ],
)
def test_integer_parameters_must_be_digits(
    stack: Stack, query: str, parameter: str, value: str
) -> None:
    with stack.client() as client:
        response = client.get(f"/v1/imports?{query}")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"parameter": parameter, "detail": f"Expected an integer written in digits, got {value!r}"}
    ]


def test_head_answers_as_get_without_a_body(stack: Stack) -> None:
    with stack.client() as client:
        got = client.get("/v1/imports")
        head = client.head("/v1/imports")
        missing = client.head("/v1/imports/imp_nope/status")
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))
    assert missing.status_code == 404
    assert missing.content == b""


def test_x_api_key_is_trimmed_like_bearer_credentials(stack: Stack) -> None:
    # Sent raw: httpx refuses to send a value with surrounding whitespace, curl does not.
    request = (
        f"GET /v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key:   {stack.api_key}  \r\n"
        "Connection: close\r\n\r\n"
    )
    status, _, body = problem_of(raw_exchange(stack, request.encode()))
    assert status == 200, body


def test_a_stalled_body_is_answered_408_and_the_connection_dropped(stack: Stack) -> None:
    head = (
        f"POST {DRY_RUN} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {stack.api_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    # Half a body, then silence: the server answers and closes (raw_exchange reads to EOF).
    status, headers, problem = problem_of(raw_exchange(stack, head + BODY[:20]))
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/request-timeout"
    assert problem["detail"] == (
        "No part of the request body arrived for 15 s; nothing was processed."
    )
