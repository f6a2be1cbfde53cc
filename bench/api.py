"""Time the API over real HTTP on a stack started as `oliai up` starts it.

Run: `python bench/api.py`. Starts its own stack on free 127.0.0.1 ports in a temporary data
dir, warms up, then measures POST /v1/imports/api/bulk with 2 and with 10,000 contacts and
GET /v1/imports/:id/status. Right after each phase it measures a bare `GET /health` round trip,
so every number has a baseline taken under the same load (the accepted imports keep the
Dagster runs busy in the background). Goal: POST of 10,000 contacts, p50 <= 100 ms.
"""

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

# Run as a script, this folder comes first on sys.path and would shadow the packages.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from tests.stack import make_stack  # noqa: E402

POSTS = 50
STATUS_GETS = 200
HEALTH_GETS = 100
WARMUP = 5
GOAL_MS = 100.0
TIME_BUDGET_S = 300.0


def phones() -> Iterator[str]:
    """Distinct valid numbers: +1 415 200-0000, +1 415 200-0001, ..."""
    for i in range(8_000_000):
        yield f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}"


def bodies(count: int, size: int, numbers: Iterator[str]) -> list[bytes]:
    """Serialized up front, so client-side JSON encoding is not timed."""
    return [
        json.dumps(
            {
                "contacts": [
                    {"name": f"Bench {n}", "phoneNumber": next(numbers)} for n in range(size)
                ]
            }
        ).encode()
        for _ in range(count)
    ]


def timed(
    calls: int, call: Callable[[int], httpx.Response], expect: int, deadline: float
) -> list[float]:
    """Milliseconds per call; stops early (with what it has) when the time budget runs out."""
    samples = []
    for i in range(calls):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        response = call(i)
        samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != expect:
            raise RuntimeError(f"expected {expect}, got {response.status_code}: {response.text}")
    return samples


def p50_p99(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=100, method="inclusive")[98]


def main() -> None:
    deadline = time.monotonic() + TIME_BUDGET_S
    numbers = phones()
    small = bodies(WARMUP + POSTS, 2, numbers)
    large = bodies(WARMUP + POSTS, 10_000, numbers)
    json_headers = {"Content-Type": "application/json"}

    with tempfile.TemporaryDirectory(prefix="oliai-bench-") as tmp:
        stack = make_stack(Path(tmp) / "data")
        started = time.monotonic()
        stack.start()
        print(f"stack up in {time.monotonic() - started:.1f} s at {stack.api_url}")
        try:
            with stack.client() as client:

                def health(_: int) -> httpx.Response:
                    return client.get("/health")

                def post(batch: list[bytes]) -> Callable[[int], httpx.Response]:
                    return lambda i: client.post(
                        "/v1/imports/api/bulk", content=batch[i], headers=json_headers
                    )

                ids: list[str] = []

                def status(i: int) -> httpx.Response:
                    return client.get(f"/v1/imports/{ids[i % len(ids)]}/status")

                # Warm-up: connections, caches, first GraphQL submissions.
                timed(20, health, 200, deadline)
                timed(WARMUP, post(small), 202, deadline)
                timed(WARMUP, post(large), 202, deadline)
                ids.extend(item["id"] for item in client.get("/v1/imports").json()["data"])
                timed(20, status, 200, deadline)

                phases = [
                    ("POST bulk, 2 contacts", POSTS, post(small[WARMUP:]), 202),
                    ("POST bulk, 10,000 contacts", POSTS, post(large[WARMUP:]), 202),
                    ("GET status", STATUS_GETS, status, 200),
                ]
                rows = []
                for name, calls, call, expect in phases:
                    samples = timed(calls, call, expect, deadline)
                    baseline = timed(HEALTH_GETS, health, 200, deadline)
                    rows.append((name, samples, baseline))
        finally:
            stopped = time.monotonic()
            stack.stop()
            print(f"stack stopped in {time.monotonic() - stopped:.1f} s")

    print()
    print(f"{'operation':<28}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}   {'GET /health (same load)':>25}")
    for name, samples, baseline in rows:
        p50, p99 = p50_p99(samples)
        b50, b99 = p50_p99(baseline)
        print(
            f"{name:<28}{len(samples):>5}{p50:>9.1f}{p99:>9.1f}"
            f"   p50 {b50:5.1f}  p99 {b99:5.1f} (n={len(baseline)})"
        )
    large_p50 = p50_p99(rows[1][1])[0]
    verdict = "met" if large_p50 <= GOAL_MS else "NOT met"
    print(
        f"\ngoal: POST of 10,000 contacts p50 <= {GOAL_MS:.0f} ms -> {verdict} ({large_p50:.1f} ms)"
    )


if __name__ == "__main__":
    main()
