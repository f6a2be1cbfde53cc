"""Dagster's instance on PostgreSQL (the default) beside Dagster's SQLite files (the storage of
earlier releases, `OLIAI_DAGSTER_STORAGE=sqlite`), in one run: the same stack started once with
each, measuring `oliai up` start-up, POST → COMPLETED for 2 and 10k contacts, `GET /status` p50
on a finished import, sequential 10k batches, and 4 organizations importing at once.

    .venv/bin/python bench/instance_storage.py [--samples 5] [--batches 20] [--orgs 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from bench.end_to_end import batch_body, post_until_completed  # noqa: E402
from tests.stack import Stack, make_stack  # noqa: E402

STATUS_GETS = 200


@dataclass
class Measured:
    start_s: float
    small_s: list[float]
    large_s: list[float]
    status_ms: list[float]
    batches_s: float
    parallel_s: float


def status_latency(stack: Stack, import_id: str) -> list[float]:
    samples = []
    with stack.client() as client:
        for _ in range(STATUS_GETS):
            started = time.perf_counter()
            assert client.get(f"/v1/imports/{import_id}/status").status_code == 200
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def parallel_orgs(stack: Stack, orgs: int, base: int) -> float:
    """`orgs` organizations posting one 10k import each at the same moment, until all ended."""
    keys = [stack.new_org_key(f"bench-{base}-{n}") for n in range(orgs)]

    def one(n: int) -> float:
        with stack.client(keys[n]) as client:
            response = client.post("/v1/imports/api/bulk", json=batch_body(base + n))
            assert response.status_code == 202, response.text
            import_id = response.json()["importId"]
            while client.get(f"/v1/imports/{import_id}/status").json()["status"] != "COMPLETED":
                time.sleep(0.05)
        return time.perf_counter()

    started = time.perf_counter()
    with ThreadPoolExecutor(orgs) as pool:
        return max(pool.map(one, range(orgs))) - started


def measure(storage: str, args: argparse.Namespace, tmp: Path) -> Measured:
    stack = make_stack(tmp / storage / "data", OLIAI_DAGSTER_STORAGE=storage)
    started = time.perf_counter()
    stack.start()
    start_s = time.perf_counter() - started
    try:
        post_until_completed(stack, batch_body(90_000, 2))  # warm-up
        small = [
            post_until_completed(stack, batch_body(91_000 + n, 2)) for n in range(args.samples)
        ]
        large = [post_until_completed(stack, batch_body(92_000 + n)) for n in range(args.samples)]
        with stack.client() as client:
            last = client.get("/v1/imports?limit=1").json()["data"][0]["id"]
        status = status_latency(stack, last)
        started = time.perf_counter()
        for n in range(args.batches):
            post_until_completed(stack, batch_body(n))
        batches_s = time.perf_counter() - started
        parallel_s = parallel_orgs(stack, args.orgs, 95_000)
    finally:
        stack.stop()
    return Measured(start_s, small, large, status, batches_s, parallel_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--orgs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {storage: measure(storage, args, Path(tmp)) for storage in ("sqlite", "postgres")}

    def row(label: str, value: str, baseline: str, ratio: float) -> None:
        print(f"  {label:<34}{value:>12}{baseline:>12}{ratio:>10.2f}x")

    pg, lite = results["postgres"], results["sqlite"]
    med = statistics.median
    print(f"\nDagster instance storage, median of {args.samples} (load: the stack alone)")
    print(f"  {'':<34}{'postgres':>12}{'sqlite':>12}{'pg/sqlite':>11}")
    row(
        "oliai up start-up (s)",
        f"{pg.start_s:.1f}",
        f"{lite.start_s:.1f}",
        pg.start_s / lite.start_s,
    )
    for label, a, b in (
        ("POST → COMPLETED, 2 contacts (s)", med(pg.small_s), med(lite.small_s)),
        ("POST → COMPLETED, 10k contacts (s)", med(pg.large_s), med(lite.large_s)),
        ("GET status p50 (ms)", med(pg.status_ms), med(lite.status_ms)),
    ):
        row(label, f"{a:.2f}", f"{b:.2f}", a / b)
    row(
        f"{args.batches} sequential 10k batches (s)",
        f"{pg.batches_s:.1f}",
        f"{lite.batches_s:.1f}",
        pg.batches_s / lite.batches_s,
    )
    row(
        f"{args.orgs} orgs x 10k at once (s)",
        f"{pg.parallel_s:.1f}",
        f"{lite.parallel_s:.1f}",
        pg.parallel_s / lite.parallel_s,
    )


if __name__ == "__main__":
    main()
