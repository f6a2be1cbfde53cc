"""Claims of docs/api.md and docs/operations.md that no other test exercised, over HTTP.

On the session stack: which credential counts when both are sent, what a dry run leaves behind,
idempotency keys after 24 hours. On a stack of this module's own, with a small rate limit and
processes the tests suspend or kill: the RateLimit-* headers and 429, /health's 503 while
Dagster is unreachable, `failed = total` for a run that failed before writing, and a key held by
a request that died before its 202.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from dagster import RunsFilter

from api.dagster_gateway import REACHABILITY_TTL_S
from core.contracts import tags
from tests.integration.api_support import (
    BULK,
    MESSY_BODY,
    SEED_BODY,
    assert_problem,
    contacts,
    history_total,
    phone,
)
from tests.integration.claims_support import child, import_row, imports_of, set_import_age
from tests.stack import TERMINAL, Stack, make_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

T = TypeVar("T")
RATE_LIMIT = 25
RATE_HEADERS = ("ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
HEALTHY = {"status": "ok", "checks": {"controlStore": "ok", "dagster": "ok"}}
DAGSTER_DOWN = {"status": "unavailable", "checks": {"controlStore": "ok", "dagster": "unreachable"}}


def new_org(stack: Stack, topic: str) -> tuple[str, str]:
    """(organization id, API key) of a fresh organization."""
    org = f"claims-{topic}-{secrets.token_hex(3)}"
    return org, stack.new_org_key(org)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 120) -> T:
    deadline = time.monotonic() + timeout_s
    while (value := probe()) is None:
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.5)
    return value


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    """GET a 200, waiting out a 429 as the reference says (the own stack's limit is small)."""
    deadline = time.monotonic() + 180
    while True:
        response = client.get(path, params=params)
        if response.status_code == 429 and time.monotonic() < deadline:
            time.sleep(float(response.headers["retry-after"]) + 0.5)
            continue
        assert response.status_code == 200, response.text
        return response.json()


def wait_terminal(client: httpx.Client, import_id: str, every_s: float = 0.5) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status: dict[str, Any] = get_json(client, f"/v1/imports/{import_id}/status")
        if status["status"] in TERMINAL:
            return status
        time.sleep(every_s)
        return None

    return wait_for(f"{import_id} to end", ended, 180)


def post_raw(client: httpx.Client, body: bytes, idempotency_key: str) -> httpx.Response:
    return client.post(
        BULK,
        content=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
    )


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# --- on the session stack --------------------------------------------------------------------


def test_x_api_key_is_ignored_when_authorization_is_present(stack: Stack) -> None:
    _, key_a = new_org(stack, "auth-a")
    _, key_b = new_org(stack, "auth-b")
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        accepted = client.post(BULK, json=SEED_BODY, headers=bearer(key_a))
        assert accepted.status_code == 202, accepted.text

        # A valid X-API-Key does not rescue a bad Authorization header.
        for authorization in (
            "Bearer oliai_" + "A" * 43,  # unknown key
            "Bearer",  # no key at all
            "Basic dXNlcjpwYXNz",  # not Bearer
            "",  # present, and empty
        ):
            response = client.get(
                "/v1/imports", headers={"Authorization": authorization, "X-API-Key": key_a}
            )
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == 'Bearer realm="oliai"'

        # A valid Bearer key wins over a garbage or another organization's X-API-Key.
        for x_api_key in ("garbage", "oliai_" + "B" * 43, key_a):
            response = client.get("/v1/imports", headers={**bearer(key_b), "X-API-Key": x_api_key})
            assert response.status_code == 200, response.text
            assert response.json()["total"] == 0  # organization B's history, not A's
        own = client.get("/v1/imports", headers={**bearer(key_a), "X-API-Key": "garbage"})
        assert own.status_code == 200
        assert [item["id"] for item in own.json()["data"]] == [accepted.json()["importId"]]


def runs_of_org(stack: Stack, org: str) -> int:
    with stack.instance() as instance:
        return len(instance.get_run_records(RunsFilter(tags={tags.ORG_ID: org})))


def test_dry_run_ignores_the_idempotency_key_and_writes_nothing(stack: Stack) -> None:
    org, key = new_org(stack, "dry")
    idem = "dry-" + secrets.token_hex(6)
    seed, messy = encoded(SEED_BODY), encoded(MESSY_BODY)
    landing = stack.data_dir / "landing" / org
    with stack.client(key) as client:

        def dry(body: bytes, key_value: str = idem) -> dict[str, Any]:
            response = client.post(
                BULK,
                params={"dryRun": "true"},
                content=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": key_value},
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        # One key, two bodies: neither dry run reserves it, so neither is "reused".
        assert dry(seed)["total"] == 2
        report = dry(messy)
        assert (report["total"], report["valid"], report["failed"], report["errorCount"]) == (
            6,
            3,
            3,
            5,
        )
        assert dry(seed) == dry(seed)
        # The request checks still apply: an over-long key is a 400 here too.
        too_long = client.post(
            BULK, params={"dryRun": "true"}, json=SEED_BODY, headers={"Idempotency-Key": "k" * 256}
        )
        assert_problem(too_long, 400, "bad-request", parameter="Idempotency-Key")

        # Nothing anywhere: no import (listed or reserved), no landing file, no run.
        assert history_total(client) == 0
        assert imports_of(stack, org) == []
        assert not landing.exists()
        assert runs_of_org(stack, org) == 0

        # The key is still free for a real import, with the body of the last dry run or any.
        accepted = post_raw(client, messy, idem)
        assert accepted.status_code == 202, accepted.text
        import_id = accepted.json()["importId"]
        # Held now for real imports, yet a dry run with it and another body is still a 200.
        assert_problem(post_raw(client, seed, idem), 422, "idempotency-key-reused")
        assert dry(seed)["total"] == 2
        assert history_total(client) == 1
        assert [row["id"] for row in imports_of(stack, org)] == [import_id]
        assert [path.name for path in landing.iterdir()] == [f"{import_id}.json"]
        status = wait_terminal(client, import_id)
        assert status["status"] == "COMPLETED_WITH_ERRORS"
        assert runs_of_org(stack, org) == 1


def test_an_idempotency_key_is_free_again_after_24_hours(stack: Stack) -> None:
    org, key = new_org(stack, "idem-24h")
    idem = "idem-" + secrets.token_hex(6)
    first_body, second_body = encoded(SEED_BODY), encoded({"contacts": contacts(2, start=7000)})
    with stack.client(key) as client:
        first = post_raw(client, first_body, idem)
        assert first.status_code == 202, first.text
        first_id = first.json()["importId"]

        # Within 24 h, even at 23 h 59 min: the key is the first import's.
        set_import_age(stack, first_id, timedelta(hours=23, minutes=59))
        reused = assert_problem(post_raw(client, second_body, idem), 422, "idempotency-key-reused")
        assert first_id in reused["detail"]
        replay = post_raw(client, first_body, idem)
        assert (replay.status_code, replay.json()["importId"]) == (202, first_id)

        # Past 24 h the key makes a new import, with another body (or the same one).
        set_import_age(stack, first_id, timedelta(hours=24, minutes=1))
        second = post_raw(client, second_body, idem)
        assert second.status_code == 202, second.text
        second_id = second.json()["importId"]
        assert second_id != first_id
        # ... and is now the new import's: replays return it, the old body is "reused".
        assert post_raw(client, second_body, idem).json()["importId"] == second_id
        reused = assert_problem(post_raw(client, first_body, idem), 422, "idempotency-key-reused")
        assert second_id in reused["detail"]

        # The old import is still there, and both are processed.
        assert history_total(client) == 2
        assert wait_terminal(client, first_id)["status"] == "COMPLETED"
        assert wait_terminal(client, second_id)["status"] == "COMPLETED"
    assert {row["id"] for row in imports_of(stack, org)} == {first_id, second_id}


# --- on a stack of our own -------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with a rate limit of RATE_LIMIT requests a minute, whose processes the tests
    suspend and kill."""
    stack = make_stack(
        tmp_path_factory.mktemp("claims-api") / "data",
        OLIAI_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def assert_rate_headers(response: httpx.Response, remaining: int) -> int:
    """The documented headers, exactly; returns RateLimit-Reset."""
    assert response.headers["ratelimit-policy"] == f"{RATE_LIMIT}; w=60"
    assert response.headers["ratelimit-limit"] == str(RATE_LIMIT)
    assert response.headers["ratelimit-remaining"] == str(remaining)
    reset = int(response.headers["ratelimit-reset"])
    assert 0 < reset <= 60
    return reset


def test_rate_limit_headers_429_and_the_paths_not_limited(limited: Stack) -> None:
    _, key_a = new_org(limited, "rate-a")
    _, key_b = new_org(limited, "rate-b")
    with (
        limited.client(key_a) as a,
        limited.client(key_b) as b,
        httpx.Client(base_url=limited.api_url, timeout=30) as anonymous,
    ):
        # Every /v1 response carries the headers, whatever its status, and all count.
        requests: list[Callable[[], httpx.Response]] = [
            lambda: a.get("/v1/imports"),  # 200
            lambda: a.get("/v1/imports/imp_0000/status"),  # 404
            lambda: a.get("/v1/imports", params={"limit": 0}),  # 400
            lambda: a.post(BULK, json={"contacts": []}),  # 422
        ]
        resets = []
        for n in range(1, RATE_LIMIT + 1):
            response = requests[n % len(requests)]()
            assert response.status_code in {200, 400, 404, 422}, response.text
            resets.append(assert_rate_headers(response, RATE_LIMIT - n))
        assert resets == sorted(resets, reverse=True)  # one window, counting down

        over = a.get("/v1/imports")
        assert_problem(over, 429, "rate-limited")
        reset = assert_rate_headers(over, 0)
        assert over.headers["retry-after"] == str(reset)
        assert_problem(a.post(BULK, json=SEED_BODY), 429, "rate-limited")

        # Per organization: B has its whole window.
        assert_rate_headers(b.get("/v1/imports"), RATE_LIMIT - 1)

        # Without a valid key, per client address: 401s count, then 429.
        for n in range(1, RATE_LIMIT + 1):
            response = anonymous.get("/v1/imports", headers=bearer("oliai_" + "C" * 43))
            assert_problem(response, 401, "unauthorized")
            assert_rate_headers(response, RATE_LIMIT - n)
        anonymous_over = anonymous.get("/v1/imports")
        assert_problem(anonymous_over, 429, "rate-limited")
        anonymous_reset = assert_rate_headers(anonymous_over, 0)

        # /health and /schema are not limited, not even for a limited organization.
        for path in ("/health", "/schema", "/schema/openapi.json"):
            for client in (a, anonymous):
                for _ in range(RATE_LIMIT + 1):
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.text[:200])
                    assert not set(RATE_HEADERS) & set(response.headers), path

        # Waiting RateLimit-Reset seconds is enough.
        time.sleep(max(reset, anonymous_reset) + 1)
        assert_rate_headers(a.get("/v1/imports"), RATE_LIMIT - 1)
        again = anonymous.get("/v1/imports")
        assert_problem(again, 401, "unauthorized")
        assert_rate_headers(again, RATE_LIMIT - 1)


def test_health_is_503_while_dagster_is_unreachable_and_200_after(limited: Stack) -> None:
    org, key = new_org(limited, "health")
    webserver = child(limited, "dagster-webserver")
    with (
        httpx.Client(base_url=limited.api_url, timeout=30) as anonymous,
        limited.client(key) as client,
    ):
        healthy = anonymous.get("/health")
        assert (healthy.status_code, healthy.json()) == (200, HEALTHY)

        webserver.suspend()  # SIGSTOP: the webserver's port accepts but never answers
        try:
            time.sleep(REACHABILITY_TTL_S + 0.5)  # the API's last good check is forgotten
            down = anonymous.get("/health")
            assert (down.status_code, down.json()) == (503, DAGSTER_DOWN)
            assert down.headers["content-type"] == "application/json"

            # Meanwhile an import is refused with nothing created ...
            refused = client.post(BULK, json=SEED_BODY)
            assert_problem(refused, 503, "orchestrator-unavailable")
            assert refused.headers["retry-after"] == "5"
            # ... while a dry run, which does not need Dagster, still answers.
            dry = client.post(BULK, params={"dryRun": "true"}, json=MESSY_BODY)
            assert dry.status_code == 200, dry.text
            assert dry.json()["errorCount"] == 5
            assert anonymous.get("/health").status_code == 503
        finally:
            webserver.resume()

        def recovered() -> httpx.Response | None:
            response = anonymous.get("/health")
            return response if response.status_code == 200 else None

        back = wait_for("/health to be 200 again", recovered, 60)
        assert back.json() == HEALTHY
        assert history_total(client) == 0
    assert imports_of(limited, org) == []
    assert not (limited.data_dir / "landing" / org).exists()


def test_a_run_that_failed_before_writing_counts_every_row_failed(limited: Stack) -> None:
    """The daemon is stopped so the run waits in the queue; its request body is then removed,
    and the run fails at its first step."""
    _, key = new_org(limited, "failed-total")
    daemon = child(limited, "serve daemon")
    body = {"contacts": contacts(7, start=9000)}
    with limited.client(key) as client:
        daemon.suspend()  # SIGSTOP: nothing is dequeued
        try:
            accepted = client.post(BULK, json=body)
            assert accepted.status_code == 202, accepted.text
            import_id = accepted.json()["importId"]

            def queued() -> dict[str, Any] | None:
                (item,) = get_json(client, "/v1/imports")["data"]
                time.sleep(1)
                return item if item["runId"] is not None else None

            item = wait_for("the run to be submitted", queued, 120)
            # A queued run: PENDING (api.md's table), no counts, no completedAt.
            assert {k: item[k] for k in ("status", "total", "created", "failed")} == {
                "status": "PENDING",
                "total": 7,
                "created": 0,
                "failed": 0,
            }
            assert item["completedAt"] is None
            record = import_row(limited, import_id)
            assert record is not None
            Path(record["landing_path"]).unlink()
        finally:
            daemon.resume()

        status = wait_terminal(client, import_id, every_s=3.0)
        assert status == {
            "id": import_id,
            "status": "FAILED",
            "total": 7,
            "created": 0,
            "updated": 0,
            "failed": 7,
            "errorCount": 0,
            "skipped": 0,
            "completedAt": status["completedAt"],
        }
        assert status["completedAt"] is not None
        # The normalization step never ran: no row errors are listed.
        errors = get_json(client, f"/v1/imports/{import_id}/errors")
        assert (errors["data"], errors["total"]) == ([], 0)
        (listed,) = get_json(client, "/v1/imports")["data"]
        assert {k: listed[k] for k in status} == status


def big_body(size: int = 30 * 1024 * 1024) -> bytes:
    """Just under the 32 MiB body limit: its landing write and fsync take a while."""
    count = 1000
    padding = "x" * (size // count - 100)
    return encoded(
        {
            "contacts": [
                {"name": f"Big {i}", "phoneNumber": phone(600_000 + i), "note": padding}
                for i in range(count)
            ]
        }
    )


def test_a_key_held_by_a_request_that_died_before_its_202_is_freed_after_5_minutes(
    limited: Stack,
) -> None:
    """The API is killed while it writes the request body to the landing zone: after its
    reservation, before its 202. Then the stack is started again."""
    org, key = new_org(limited, "stale")
    landing = limited.data_dir / "landing" / org
    body = big_body()
    api = child(limited, "uvicorn")
    idem = "stale-" + secrets.token_hex(6)
    answered: list[httpx.Response | Exception] = []

    def send() -> None:
        with limited.client(key) as client:
            try:
                answered.append(post_raw(client, body, idem))
            except httpx.TransportError as exc:
                answered.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 120
    while not (landing.is_dir() and any(p.suffix == ".tmp" for p in landing.iterdir())):
        assert sender.is_alive(), f"the request ended before its landing write: {answered}"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    api.kill()
    sender.join(60)
    assert len(answered) == 1
    assert isinstance(answered[0], httpx.TransportError), answered  # no 202 reached the client
    assert limited.process is not None
    assert limited.process.wait(timeout=90) == 1  # oliai up stops the rest when a child dies
    (stale,) = imports_of(limited, org)
    assert (stale["state"], stale["idempotency_key"]) == ("accepting", idem)

    limited.start()
    with limited.client(key) as client:
        # Not an import: not listed, never submitted.
        assert history_total(client) == 0
        # Within 5 minutes the key is held, as for a request still being accepted.
        set_import_age(limited, stale["id"], timedelta(minutes=4, seconds=30))
        held = post_raw(client, body, idem)
        assert_problem(held, 409, "idempotency-key-in-flight")
        assert held.headers["retry-after"] == "1"

        # Past 5 minutes the key is free: the same request now makes a new import.
        set_import_age(limited, stale["id"], timedelta(minutes=5, seconds=10))
        accepted = post_raw(client, body, idem)
        assert accepted.status_code == 202, accepted.text
        import_id = accepted.json()["importId"]
        assert import_id != stale["id"]
        assert post_raw(client, body, idem).json()["importId"] == import_id
        status = wait_terminal(client, import_id, every_s=3.0)
        assert (status["status"], status["created"]) == ("COMPLETED", 1000)
        assert history_total(client) == 1
