"""Idempotency-Key: a retried request returns the first answer and creates no second import.

Each organization here is fresh, so its history total counts exactly the imports created.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.api_support import (
    BULK,
    SEED_BODY,
    assert_problem,
    contacts,
    fresh_org,
    history_total,
)
from tests.stack import Stack

pytestmark = pytest.mark.integration

OTHER_BODY = {"contacts": contacts(3, start=500)}


def post(client: httpx.Client, body: object, key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(BULK, json=body, headers=headers)


def new_key() -> str:
    return "idem-" + secrets.token_hex(8)


@dataclass
class First:
    client: httpx.Client
    key: str
    response: httpx.Response


@pytest.fixture(scope="module")
def first(stack: Stack) -> Iterator[First]:
    """One organization's first request with a key."""
    with stack.client(fresh_org(stack, "idem")) as client:
        key = new_key()
        response = post(client, SEED_BODY, key)
        assert response.status_code == 202, response.text
        yield First(client, key, response)


def test_same_key_same_body_returns_the_first_import(first: First) -> None:
    for _ in range(3):
        again = post(first.client, SEED_BODY, first.key)
        assert again.status_code == 202, again.text
        assert again.json() == first.response.json()
    listed = first.client.get("/v1/imports").json()
    assert listed["total"] == 1
    assert [item["id"] for item in listed["data"]] == [first.response.json()["importId"]]


def test_same_key_different_body_is_422(first: First) -> None:
    body = assert_problem(post(first.client, OTHER_BODY, first.key), 422, "idempotency-key-reused")
    assert first.response.json()["importId"] in body["detail"]
    assert history_total(first.client) == 1


def test_another_key_with_the_same_body_is_a_new_import(stack: Stack) -> None:
    # An organization of its own: `first`'s must keep exactly one import.
    with stack.client(fresh_org(stack, "idem-another-key")) as client:
        one = post(client, SEED_BODY, new_key())
        assert one.status_code == 202, one.text
        other = post(client, SEED_BODY, new_key())
        assert other.status_code == 202, other.text
        assert other.json()["importId"] != one.json()["importId"]
        assert history_total(client) == 2


def test_overlong_key_is_400(first: First) -> None:
    before = history_total(first.client)
    response = post(first.client, SEED_BODY, "k" * 256)
    assert_problem(response, 400, "bad-request", parameter="Idempotency-Key")
    assert history_total(first.client) == before


def test_a_rejected_request_does_not_use_up_its_key(stack: Stack) -> None:
    key = new_key()
    with stack.client(fresh_org(stack, "idem-rejected")) as client:
        rejected = post(client, {"contacts": []}, key)
        assert_problem(rejected, 422, "invalid-request", pointer="/contacts")
        accepted = post(client, SEED_BODY, key)
        assert accepted.status_code == 202, accepted.text
        assert history_total(client) == 1


def test_same_key_in_another_organization_is_independent(stack: Stack, first: First) -> None:
    with stack.client(fresh_org(stack, "idem-other-org")) as other:
        # The other organization's first use of the key fixes its own body...
        mine = post(other, OTHER_BODY, first.key)
        assert mine.status_code == 202, mine.text
        assert mine.json()["importId"] != first.response.json()["importId"]
        assert history_total(other) == 1
        # ...and is checked against that body only.
        assert post(other, OTHER_BODY, first.key).json() == mine.json()
        assert_problem(post(other, SEED_BODY, first.key), 422, "idempotency-key-reused")
    assert post(first.client, SEED_BODY, first.key).json() == first.response.json()


def test_ten_parallel_posts_with_one_key_create_one_import(stack: Stack) -> None:
    key = new_key()
    api_key = fresh_org(stack, "idem-parallel")

    def attempt(_: int) -> httpx.Response:
        with stack.client(api_key) as client:
            return post(client, OTHER_BODY, key)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(attempt, range(10)))

    accepted = [r for r in responses if r.status_code == 202]
    in_flight = [r for r in responses if r.status_code != 202]
    assert accepted, [r.text for r in responses]
    assert len({r.json()["importId"] for r in accepted}) == 1
    for response in in_flight:
        assert_problem(response, 409, "idempotency-key-in-flight")
        assert int(response.headers["retry-after"]) >= 1
    with stack.client(api_key) as client:
        listed = client.get("/v1/imports").json()
        assert listed["total"] == 1
        assert listed["data"][0]["id"] == accepted[0].json()["importId"]
        # Once the first request has finished, a retry gets its answer.
        retry = post(client, OTHER_BODY, key)
        assert retry.status_code == 202, retry.text
        assert retry.json() == accepted[0].json()
