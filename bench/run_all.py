"""Every benchmark, one after another (`make bench`); `--quick` runs each at a smaller size.

Each script starts what it needs on 127.0.0.1, prints its own table beside its same-run
baseline, and stops what it started.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, full-size arguments, quick arguments)
BENCHES = [
    ("transforms.py", [], []),
    ("phones.py", [], ["--quick"]),
    ("pipeline.py", [], ["--quick"]),
    ("first_write.py", [], ["--samples", "3"]),
    ("lake.py", [], ["--quick"]),
    ("api.py", [], []),
    ("webhooks.py", [], ["--imports", "10"]),
    ("webhooks.py", ["--hanging", "60", "--imports", "5"], ["--hanging", "60", "--imports", "3"]),
    ("end_to_end.py", [], ["--batches", "10", "--samples", "5"]),
    ("dry_run.py", [], []),
    ("batch_import.py", [], ["--rows", "100000"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, minutes not an hour")
    args = parser.parse_args()
    failed = []
    for script, full, quick in BENCHES:
        command = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(script)
        print(f"=== {script}: {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
