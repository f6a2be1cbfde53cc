"""Time `POST /v1/imports/api/bulk?dryRun=true` with 10,000 rows over real HTTP.

Run: `python bench/dry_run.py`. Starts its own stack in a temporary data dir, imports 10,000
contacts into one organization, then times dry runs of 10,000 rows against them: half change an
existing contact (name and a metadata key), half are new numbers. The first dry run of the API
process also opens its read-only lake connection; the later ones reuse it. Goal: well under 1 s.
Baseline, same run: the same dry runs by an organization with no contacts (every row a create:
the row rules and an empty read, no diff against stored values).
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

# Run as a script, this folder comes first on sys.path and would shadow the packages.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from tests.stack import make_stack  # noqa: E402

ROWS = 10_000
RUNS = 20


def phone(i: int) -> str:
    return f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}"


def body(contacts: list[dict[str, object]]) -> bytes:
    return json.dumps({"contacts": contacts}).encode()


def main() -> None:
    stored = body([{"name": f"Old {i}", "phoneNumber": phone(i), "tier": "a"} for i in range(ROWS)])
    half = ROWS // 2
    mixed = body(
        [{"name": f"New {i}", "phoneNumber": phone(i), "tier": "b"} for i in range(half)]
        + [{"name": f"New {i}", "phoneNumber": phone(i)} for i in range(ROWS, ROWS + half)]
    )
    headers = {"Content-Type": "application/json"}
    with tempfile.TemporaryDirectory(prefix="oliai-bench-") as tmp:
        stack = make_stack(Path(tmp) / "data")
        stack.start()
        try:
            with stack.client() as client:
                accepted = client.post("/v1/imports/api/bulk", content=stored, headers=headers)
                stack.wait_for_terminal(accepted.json()["importId"])
                samples = timed(client, mixed, (half, half))
            with stack.client(stack.new_org_key("bench-empty")) as client:
                baseline = timed(client, mixed, (ROWS, 0))
        finally:
            stack.stop()
    first, rest = samples[0], sorted(samples[1:])
    base = statistics.median(sorted(baseline[1:]))
    print(f"dry run of {ROWS:,} rows ({half:,} updates, {half:,} creates) over HTTP:")
    print(f"  first (opens the lake connection): {first:.0f} ms")
    print(f"  next {RUNS}: p50 {statistics.median(rest):.0f} ms, max {rest[-1]:.0f} ms")
    print(
        f"  baseline, an organization with no contacts: p50 {base:.0f} ms "
        f"(diff against 10k stored / none {statistics.median(rest) / base:.2f}x)"
    )


def timed(client: httpx.Client, content: bytes, expected: tuple[int, int]) -> list[float]:
    """Milliseconds of RUNS + 1 dry runs; each report's (created, updated) must be `expected`."""
    samples = []
    for _ in range(RUNS + 1):
        started = time.perf_counter()
        response = client.post(
            "/v1/imports/api/bulk",
            params={"dryRun": "true"},
            content=content,
            headers={"Content-Type": "application/json"},
        )
        samples.append((time.perf_counter() - started) * 1000)
        report = response.json()
        assert (report["created"], report["updated"]) == expected, report
    return samples


if __name__ == "__main__":
    main()
