"""A run worker's one lake write, cold, beside the same write in a warm process: what a fresh
process pays for its first use of DuckDB and the lake, and what the forkserver's rehearsal
(`core/warehouse/rehearsal.py`) leaves of it.

Each cold sample is a new Python process (imports done before the clock starts, as the run
worker's forkserver has them) that opens the lake, applies one import and closes it; a rehearsed
sample is the same after `rehearse_write()`, as a run worker forked from the forkserver starts;
the warm samples do the same, one after the other, in this process. DuckDB with the runs' threads
(`Settings.run_threads`). On a private PostgreSQL server of its own (127.0.0.1, stopped at the
end).

    .venv/bin/python bench/first_write.py [--samples 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from bench.lake_server import lake_server  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.warehouse.lake import LakeLocation  # noqa: E402
from core.warehouse.rehearsal import rehearse_write  # noqa: E402
from core.warehouse.writer import ImportBatch, apply_import, open_warehouse  # noqa: E402
from transforms import contacts_frame, normalize_contacts  # noqa: E402

SIZES = (2, 10_000)
THREADS = Settings().run_threads


def import_batch(number: int, size: int) -> ImportBatch:
    contacts = [
        {"name": f"C {n}", "phoneNumber": f"+91{9_000_000_000 + number * 100_000 + n}"}
        for n in range(size)
    ]
    normalized = normalize_contacts(contacts_frame(contacts))
    return ImportBatch(
        import_id=f"imp_first_write_{number}",
        org_id="bench",
        run_id="bench",
        audience_id=None,
        valid=normalized.valid,
        errors=normalized.errors,
        total=normalized.total,
        failed=normalized.failed,
        sequence=number,
    )


def write_seconds(location: LakeLocation, batch: ImportBatch) -> tuple[float, float, float]:
    """Open the lake (with its schema check), apply, close: what a run's warehouse step does
    with it; the seconds of each."""
    started = time.perf_counter()
    with open_warehouse(location, threads=THREADS) as con:
        opened = time.perf_counter()
        apply_import(con, batch, datetime.now(UTC))
        applied = time.perf_counter()
    return opened - started, applied - opened, time.perf_counter() - applied


def cold(
    location: LakeLocation, number: int, size: int, *, rehearsed: bool
) -> tuple[float, float, float]:
    """One write in a new process, timed inside it (after the rehearsal if `rehearsed`)."""
    child = json.dumps([*vars(location).values(), number, size, rehearsed])
    result = subprocess.run(
        [sys.executable, __file__, "--child", child],
        capture_output=True,
        text=True,
        check=True,
    )
    open_s, apply_s, close_s = json.loads(result.stdout)
    return open_s, apply_s, close_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        catalog_url, data_path, number, size, rehearsed = json.loads(args.child)
        if rehearsed:
            rehearse_write()
        batch = import_batch(number, size)
        print(json.dumps(write_seconds(LakeLocation(catalog_url, data_path), batch)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp, lake_server(Path(tmp)) as lakes:
        location = lakes.fresh("first_write")
        write_seconds(location, import_batch(0, 2))  # the lake's tables, once
        number = 1
        for size in SIZES:
            samples: dict[str, list[tuple[float, float, float]]] = {
                "cold": [],
                "rehearsed": [],
                "warm": [],
            }
            for _ in range(args.samples):
                samples["cold"].append(cold(location, number, size, rehearsed=False))
                samples["rehearsed"].append(cold(location, number + 1, size, rehearsed=True))
                samples["warm"].append(write_seconds(location, import_batch(number + 2, size)))
                number += 3
            for kind, timings in samples.items():
                phases = [statistics.median(phase) for phase in zip(*timings, strict=True)]
                total = statistics.median(sum(timing) for timing in timings)
                rows.append((size, kind, total, *phases))
    print(f"\nopen + apply + close, median of {args.samples} (ms)")
    print(f"  {'contacts':>8} {'process':<10}{'total':>8}{'open':>8}{'apply':>8}{'close':>8}")
    for size, kind, *seconds in rows:
        print(f"  {size:>8,} {kind:<10}" + "".join(f"{1000 * value:>8.0f}" for value in seconds))


if __name__ == "__main__":
    main()
