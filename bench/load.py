"""A bounded load test of the stack on loopback: several clients post 1,000-contact imports and
poll for a fixed time. Prints the error rate, POST and GET latencies (p50/p99/max), and the
open files and memory of each stack process sampled through the run, so growth shows.

Run: `python bench/load.py [--duration 120] [--clients 3] [--contacts 1000] [--drain 600]`.
Starts its own stack (as `oliai up` does) on free 127.0.0.1 ports in a temporary data dir.
Each client is its own organization, so the per-organization rate limit (1,200/min) is never
the thing measured. After the load, it waits (at most --drain seconds) until every accepted
import ended, and counts how they ended: nothing accepted may be lost.

Not a pytest test: it prints numbers (docs/reliability.md records them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import psutil

# Run as a script, this folder comes first on sys.path and would shadow the packages.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from tests.stack import TERMINAL, Stack, make_stack  # noqa: E402

BULK = "/v1/imports/api/bulk"
POLL_INTERVAL_S = 0.25
SAMPLE_INTERVAL_S = 5.0
WARMUP_S = 15.0  # resource figures are compared from here on (imports, caches, pools warm)


@dataclass
class ClientStats:
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)


def body(client: int, n: int, contacts: int) -> bytes:
    """Distinct numbers per import (+1 415 …): every import creates its contacts."""
    first = (client * 1_000 + n) * contacts
    return msgspec.json.encode(
        {
            "contacts": [
                {
                    "name": f"Load {i}",
                    "phoneNumber": f"+1415{200 + i // 10_000:03d}{i % 10_000:04d}",
                    "source": "bench/load.py",
                }
                for i in range(first, first + contacts)
            ]
        }
    )


def run_client(
    stack: Stack, key: str, index: int, args: argparse.Namespace, deadline: float
) -> ClientStats:
    """Post an import every --post-interval seconds; poll statuses and history in between."""
    stats = ClientStats()
    headers = {"Content-Type": "application/json"}
    n = 0
    with stack.client(key) as client:
        while time.monotonic() < deadline:
            payload = body(index, n, args.contacts)
            n += 1
            started = time.perf_counter()
            try:
                response = client.post(BULK, content=payload, headers=headers)
            except httpx.HTTPError as exc:
                stats.errors.append(f"POST: {exc!r}")
                continue
            stats.post_ms.append((time.perf_counter() - started) * 1000)
            stats.statuses[f"POST {response.status_code}"] += 1
            if response.status_code != 202:
                stats.errors.append(f"POST {response.status_code}: {response.text[:200]}")
            else:
                stats.accepted.append(response.json()["importId"])
            next_post = time.monotonic() + args.post_interval
            polls = 0
            while stats.accepted and time.monotonic() < min(next_post, deadline):
                polls += 1
                path = (
                    "/v1/imports?limit=20"
                    if polls % 4 == 0
                    else f"/v1/imports/{stats.accepted[-1]}/status"
                )
                started = time.perf_counter()
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    stats.errors.append(f"GET: {exc!r}")
                    continue
                stats.get_ms.append((time.perf_counter() - started) * 1000)
                stats.statuses[f"GET {response.status_code}"] += 1
                if response.status_code != 200:
                    stats.errors.append(f"GET {response.status_code}: {response.text[:200]}")
                time.sleep(POLL_INTERVAL_S)
    return stats


def stack_processes(stack: Stack) -> dict[str, psutil.Process]:
    assert stack.process is not None
    # The daemon's command line names the code server too (`--code-server SOCKET`).
    names = {
        "uvicorn": "api",
        "dagster-webserver": "webserver",
        "serve daemon": "daemon",
        "serve code-server": "code server",  # with its run workers
    }
    found = {}
    for child in psutil.Process(stack.process.pid).children():
        cmdline = " ".join(child.cmdline())
        for marker, name in names.items():
            if marker in cmdline:
                found[name] = child
    return found


def resources(process: psutil.Process) -> tuple[int, float]:
    """Open file descriptors and resident memory (MiB) of the process and its descendants."""
    family = [process, *process.children(recursive=True)]
    fds = rss = 0
    for member in family:
        try:
            fds += member.num_fds()
            rss += member.memory_info().rss
        except psutil.Error:
            continue
    return fds, rss / 2**20


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if samples else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients (orgs)")
    parser.add_argument("--contacts", type=int, default=1_000, help="contacts per import")
    parser.add_argument(
        "--post-interval", type=float, default=2.0, help="s between a client's POSTs"
    )
    parser.add_argument("--drain", type=float, default=600.0, help="max s to wait for the runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oliai-load-") as tmp:
        stack = make_stack(Path(tmp) / "data")
        stack.start()
        print(f"stack up at {stack.api_url}; {args.clients} clients, {args.contacts} contacts")
        try:
            report(stack, args)
        finally:
            stack.stop()


def report(stack: Stack, args: argparse.Namespace) -> None:
    keys = [stack.new_org_key(f"load-{i}") for i in range(args.clients)]
    processes = stack_processes(stack)
    samples: dict[str, list[tuple[float, int, float]]] = {name: [] for name in processes}
    start = time.monotonic()
    deadline = start + args.duration
    results: list[ClientStats] = [ClientStats() for _ in keys]

    def client_thread(i: int) -> None:
        results[i] = run_client(stack, keys[i], i, args, deadline)

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(len(keys))]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for name, process in processes.items():
            samples[name].append((time.monotonic() - start, *resources(process)))
        time.sleep(SAMPLE_INTERVAL_S)
    for thread in threads:
        thread.join()
    load_s = time.monotonic() - start

    posts = [ms for r in results for ms in r.post_ms]
    gets = [ms for r in results for ms in r.get_ms]
    statuses = sum((r.statuses for r in results), Counter[str]())
    errors = [e for r in results for e in r.errors]
    accepted = [(keys[i], import_id) for i, r in enumerate(results) for import_id in r.accepted]
    requests = len(posts) + len(gets)
    print(f"\nload: {load_s:.0f} s, {requests} requests, {len(accepted)} imports accepted")
    print(f"responses: {dict(statuses)}")
    print(f"errors: {len(errors)} ({100 * len(errors) / max(requests, 1):.2f} %)")
    for error in errors[:10]:
        print(f"  {error}")
    for name, values in (("POST 1k contacts", posts), ("GET status/history", gets)):
        print(
            f"{name:<20} n={len(values):<5} p50 {percentile(values, 50):7.1f} ms"
            f"  p99 {percentile(values, 99):7.1f} ms  max {max(values, default=0):7.1f} ms"
        )

    print("\nresources (process and its children): after warm-up -> end of load")
    for name, series in samples.items():
        warm = [s for s in series if s[0] >= WARMUP_S] or series
        first, last = warm[0], warm[-1]
        peak_fds = max(s[1] for s in warm)
        peak_rss = max(s[2] for s in warm)
        print(
            f"  {name:<11} fds {first[1]:>4} -> {last[1]:>4} (max {peak_fds:>4})   "
            f"RSS {first[2]:7.1f} -> {last[2]:7.1f} MiB (max {peak_rss:7.1f})"
        )

    drain(stack, accepted, args.drain, processes)


def drain(
    stack: Stack,
    accepted: list[tuple[str, str]],
    budget_s: float,
    processes: dict[str, psutil.Process],
) -> None:
    """Wait until every accepted import ended; nothing accepted may be lost."""
    start = time.monotonic()
    outcome: dict[str, str] = {}
    clients = {key: stack.client(key) for key, _ in accepted}
    try:
        while time.monotonic() - start < budget_s:
            for client in clients.values():
                page, seen = 1, 0
                while True:
                    listing = client.get("/v1/imports", params={"limit": 100, "page": page})
                    items = listing.json()
                    for item in items["data"]:
                        outcome[item["id"]] = item["status"]
                    seen += len(items["data"])
                    if seen >= items["total"] or not items["data"]:
                        break
                    page += 1
            if all(outcome.get(i) in TERMINAL for _, i in accepted):
                break
            time.sleep(5)
    finally:
        for client in clients.values():
            client.close()
    ended = Counter(outcome.get(i, "MISSING") for _, i in accepted)
    print(f"\ndrain: {time.monotonic() - start:.0f} s; accepted imports by status: {dict(ended)}")
    for name, process in processes.items():
        fds, rss = resources(process)
        print(f"  {name:<11} after drain: fds {fds:>4}   RSS {rss:7.1f} MiB")


if __name__ == "__main__":
    main()
