"""End to end on the stack `oliai up` starts: POST → COMPLETED for 2 and 10k contacts, and
sequential batches of 10k (1M contacts by default) with per-batch times and the run worker's
peak RSS; beside the bare pipeline (orjson → Polars → phonenumbers → `apply_import` on a lake) in
one process on the same batches, measured in the same run on a private PostgreSQL server of its
own (started after the stack stops, on 127.0.0.1, stopped at the end).

On the same stack, 4 organizations posting 5 batches of 10k each at once, beside one organization
posting the same 20 at once (its imports run one after another): the aggregate throughput.

    .venv/bin/python bench/end_to_end.py [--batches 100] [--samples 10] [--orgs 4] [--per-org 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from bench.lake_server import lake_server  # noqa: E402
from core.warehouse.lake import LakeLocation  # noqa: E402
from core.warehouse.writer import ImportBatch, apply_import, open_warehouse  # noqa: E402
from tests.stack import Stack, make_stack  # noqa: E402
from transforms import contacts_frame, normalize_contacts  # noqa: E402

BATCH = 10_000


def batch_body(batch_no: int, size: int = BATCH) -> dict[str, object]:
    """Distinct valid Indian mobile numbers per batch, with some metadata."""
    base = 9_000_000_000 + batch_no * size
    return {
        "contacts": [
            {
                "name": f"Contact {base + i}",
                "phoneNumber": f"+91{base + i}",
                "language": "hi-IN",
                "tier": "gold" if i % 3 else "silver",
            }
            for i in range(size)
        ]
    }


def post_until_completed(stack: Stack, body: dict[str, object]) -> float:
    with stack.client() as client:
        started = time.perf_counter()
        response = client.post("/v1/imports/api/bulk", json=body)
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]
        while True:
            status = client.get(f"/v1/imports/{import_id}/status").json()["status"]
            if status in ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"):
                assert status == "COMPLETED", status
                return time.perf_counter() - started
            time.sleep(0.05)


class RunWorkerMemory:
    """Samples the memory of run workers while batches run: the code server's forkserver forks
    each one (kept for the next runs), so a worker is a `forkserver` process whose parent is one
    too. RSS counts the pages it still shares with the forkserver (the imported libraries), as a
    spawned worker's would; USS only those it does not share: what its runs built and keep."""

    def __init__(self, root_pid: int) -> None:
        self.peak_rss_bytes = 0
        self.peak_uss_bytes = 0
        self._root = psutil.Process(root_pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RunWorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for process in self._root.children(recursive=True):
                try:
                    parent = process.parent()
                    forked = parent is not None and all(
                        "forkserver" in " ".join(p.cmdline()) for p in (process, parent)
                    )
                    if forked:
                        memory = process.memory_full_info()
                        self.peak_rss_bytes = max(self.peak_rss_bytes, memory.rss)
                        self.peak_uss_bytes = max(self.peak_uss_bytes, memory.uss)
                except psutil.Error:
                    continue


def bare_pipeline(batches: int, warehouse: LakeLocation) -> list[float]:
    """The same batches through the same transforms and upsert, in one process, no Dagster: each
    opens the lake, applies and closes, as each run does."""
    times = []
    for batch_no in range(batches):
        raw = orjson.dumps(batch_body(batch_no))
        started = time.perf_counter()
        normalized = normalize_contacts(contacts_frame(orjson.loads(raw)["contacts"]))
        with open_warehouse(warehouse) as con:
            apply_import(
                con,
                ImportBatch(
                    import_id=f"imp_bare_{batch_no}",
                    org_id="bench",
                    run_id="bare",
                    audience_id=None,
                    valid=normalized.valid,
                    errors=normalized.errors,
                    total=normalized.total,
                    failed=normalized.failed,
                ),
                datetime.now(UTC),
            )
        times.append(time.perf_counter() - started)
    return times


def imports_at_once(stack: Stack, keys: list[str], per_key: int, first_batch: int) -> float:
    """Seconds from posting `per_key` 10k batches for every key (all at once) to the last one's
    terminal status; each organization's imports run one at a time, organizations in parallel."""
    clients = [stack.client(key) for key in keys]
    try:
        started = time.perf_counter()
        pending = []
        for k in range(per_key):
            for n, client in enumerate(clients):
                body = batch_body(first_batch + k * len(clients) + n)
                response = client.post("/v1/imports/api/bulk", json=body)
                assert response.status_code == 202, response.text
                pending.append((client, response.json()["importId"]))
        while pending:
            client, import_id = pending[0]
            status = client.get(f"/v1/imports/{import_id}/status").json()["status"]
            if status in ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"):
                assert status == "COMPLETED", status
                pending.pop(0)
            else:
                time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        for client in clients:
            client.close()


def at(times: list[float], batch_no: int) -> str:
    return f"{times[batch_no - 1]:.2f}" if len(times) >= batch_no else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--orgs", type=int, default=4, help="organizations importing at once")
    parser.add_argument("--per-org", type=int, default=5, help="10k batches each")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        stack = make_stack(Path(tmp) / "data")
        stack.start()
        try:
            post_until_completed(stack, batch_body(10_000, 2))  # warm-up
            small = [
                post_until_completed(stack, batch_body(20_000 + n, 2)) for n in range(args.samples)
            ]
            large = [
                post_until_completed(stack, batch_body(30_000 + n)) for n in range(args.samples)
            ]
            assert stack.process is not None
            with RunWorkerMemory(stack.process.pid) as memory:
                started = time.perf_counter()
                stacked = [post_until_completed(stack, batch_body(n)) for n in range(args.batches)]
                stack_total = time.perf_counter() - started
            # Organizations at once, beside one organization importing as many batches alone.
            orgs = [stack.new_org_key(f"bench-org-{n}") for n in range(args.orgs)]
            together = imports_at_once(stack, orgs, args.per_org, 50_000)
            alone = imports_at_once(
                stack, [stack.new_org_key("bench-alone")], args.orgs * args.per_org, 60_000
            )
        finally:
            stack.stop()
        with lake_server(Path(tmp) / "bare") as lakes:
            bare = bare_pipeline(args.batches, lakes.fresh("bare"))

    contacts = args.batches * BATCH
    print(f"\nPOST → COMPLETED, median of {args.samples} (seconds)")
    print(f"  2 contacts       {statistics.median(small):.2f}   (p99 {max(small):.2f})")
    print(f"  10,000 contacts  {statistics.median(large):.2f}   (p99 {max(large):.2f})")
    print(f"\n{args.batches} sequential batches of 10k ({contacts:,} contacts)")
    print(f"  {'batch':<8}{'stack s':>10}{'bare s':>10}")
    for batch_no in (1, 10, 50, 100):
        print(f"  {batch_no:<8}{at(stacked, batch_no):>10}{at(bare, batch_no):>10}")
    print(
        f"  total    {stack_total:>9.1f}s{sum(bare):>9.1f}s   ratio {stack_total / sum(bare):.2f}x"
    )
    print(
        f"  last/first batch: stack {stacked[-1] / stacked[0]:.2f}x, bare {bare[-1] / bare[0]:.2f}x"
    )
    at_once = args.orgs * args.per_org * BATCH
    print(f"\n{args.orgs} organizations x {args.per_org} batches of 10k, posted at once")
    print(f"  together       {together:6.1f} s  {at_once / together:8,.0f} contacts/s")
    print(f"  1 org alone    {alone:6.1f} s  {at_once / alone:8,.0f} contacts/s (as many batches)")
    print(f"  throughput together / alone: {alone / together:.2f}x")
    print(
        f"  run worker peak RSS: {memory.peak_rss_bytes / 2**20:.0f} MiB, of which its own "
        f"(USS, not shared with the forkserver): {memory.peak_uss_bytes / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
