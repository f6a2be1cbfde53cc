"""`oliai import` end to end on a large CSV (1M rows by default): rows/s and the client's peak
RSS, beside a same-run baseline that reads and batches the same file with the same reader and
encodes every request body, without network (what the client costs by itself), and the reader
alone (`read_contacts` streaming every row; its traced Python peak shows it holds one row, not
the file: tests/unit/test_contact_files.py proves that it streams, this measures what it holds).

All run as child processes, measured the same way (wall time; peak RSS from wait4). The import
runs against a stack started like `oliai up` (tests/stack.py), in batches of 10,000 by default.

The import runs twice, into two organizations: with batches sent ahead (`--in-flight`'s default)
and with each awaited before the next is sent (`--in-flight 1`), the same-run baseline of the
pipelining.

    .venv/bin/python bench/batch_import.py [--rows 1000000] [--batch-size 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from client.batch.options import DEFAULT_IN_FLIGHT  # noqa: E402
from tests.stack import OLIAI, make_stack  # noqa: E402

MIB = 1024 * 1024


def write_csv(path: Path, rows: int) -> None:
    """Distinct valid Indian mobile numbers, a language, two metadata columns; 1 % invalid."""
    with open(path, "w", encoding="utf-8") as file:
        file.write("Full Name,Phone Number,lang,city,tier\n")
        for i in range(rows):
            number = "98765" if i % 100 == 99 else f"+91{9_000_000_000 + i}"
            tier = "gold" if i % 3 else "silver"
            file.write(f"Contact {i},{number},hi-IN,City {i % 50},{tier}\n")


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_bytes: int
    stdout: str


def measure(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Wall time and peak RSS (wait4's ru_maxrss) of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode()
        if process.returncode not in (0, 1):  # 1: finished with failed rows, as intended
            raise RuntimeError(f"{command[:3]} exited {process.returncode}:\n{err.read().decode()}")
    return Measured(wall, usage.ru_maxrss * 1024, stdout)


def baseline(path: Path, batch_size: int) -> None:
    """The client's own work: stream, batch, encode each body; no network."""
    from client.batch.source import batches, scan_file
    from client.contact_files import read_contacts
    from client.imports_client import encode_bulk_body

    scan_file(path)  # the fingerprint pass the import also makes
    rows = body_bytes = 0
    for batch in batches(read_contacts(path), batch_size):
        body_bytes += len(encode_bulk_body(batch.contacts))
        rows += len(batch.rows)
    print(json.dumps({"rows": rows, "bodyBytes": body_bytes}))


def reader_only(path: Path) -> None:
    """The contact-file reader by itself: every row read and dropped, Python allocations traced."""
    from client.contact_files import read_contacts

    tracemalloc.start()
    rows = sum(1 for _ in read_contacts(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rows": rows, "tracedPeakBytes": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reader", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline(args.baseline, args.batch_size)
        return
    if args.reader:
        reader_only(args.reader)
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        write_csv(path, args.rows)
        size_mib = path.stat().st_size / MIB
        batch_size = str(args.batch_size)
        reader = measure([sys.executable, __file__, "--reader", str(path)])
        base = measure(
            [sys.executable, __file__, "--baseline", str(path), "--batch-size", batch_size]
        )
        stack = make_stack(Path(tmp) / "data")
        stack.start()
        try:
            # The same file into two organizations: batches sent ahead (the default), and each
            # awaited before the next is sent (--in-flight 1, how earlier releases sent them).
            runs = {
                in_flight: measure(
                    [
                        OLIAI,
                        "import",
                        str(path),
                        "--api-url",
                        stack.api_url,
                        "--api-key",
                        stack.new_org_key(f"bench-batch-import-{in_flight}"),
                        "--batch-size",
                        batch_size,
                        "--in-flight",
                        str(in_flight),
                        "--json",
                    ],
                    env=stack.env,
                )
                for in_flight in (DEFAULT_IN_FLIGHT, 1)
            }
        finally:
            stack.stop()

    run, sequential = runs[DEFAULT_IN_FLIGHT], runs[1]
    assert json.loads(sequential.stdout)["totals"] == json.loads(run.stdout)["totals"]
    summary = json.loads(run.stdout)
    read = json.loads(reader.stdout)
    assert read["rows"] == args.rows, read
    totals = summary["totals"]
    assert totals["total"] == args.rows, totals
    assert totals["failed"] == args.rows // 100, totals
    batches = len(summary["batches"])
    print(f"\n{args.rows:,} rows ({size_mib:.0f} MiB CSV), batches of {args.batch_size:,}")
    print(f"{'':34} {'wall s':>8} {'rows/s':>9} {'peak RSS':>9}")
    print(
        f"{'reader only, traced: read_contacts':34} {reader.wall_s:8.1f} "
        f"{args.rows / reader.wall_s:9,.0f} {reader.peak_rss_bytes / MIB:7.0f} MB"
    )
    print(
        f"{'baseline: read + batch + encode':34} {base.wall_s:8.1f} "
        f"{args.rows / base.wall_s:9,.0f} {base.peak_rss_bytes / MIB:7.0f} MB"
    )
    for label, measured in (
        (f"oliai import, --in-flight {DEFAULT_IN_FLIGHT}", run),
        ("oliai import, --in-flight 1", sequential),
    ):
        print(
            f"{label:34} {measured.wall_s:8.1f} "
            f"{args.rows / measured.wall_s:9,.0f} {measured.peak_rss_bytes / MIB:7.0f} MB"
        )
    print(f"sent ahead / each awaited: {run.wall_s / sequential.wall_s:.2f}x the wall time")
    print(
        f"\n{batches} batches, {run.wall_s / batches:.2f} s per batch; created "
        f"{totals['created']:,}, failed {totals['failed']:,}; the client spends "
        f"{base.wall_s / run.wall_s:.1%} of the wall time on its own work"
    )
    print(
        f"the reader's traced Python peak while streaming {args.rows:,} rows: "
        f"{read['tracedPeakBytes'] / 1024:,.0f} KiB"
    )


if __name__ == "__main__":
    main()
