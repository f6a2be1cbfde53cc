"""The lake under concurrent writers, an open reader and many small imports, each figure beside a
baseline measured in the same run:

a. 4 organizations importing at once (4 processes, each applying its batches of 10k through
   `apply_import` on its own connection) against 1 organization applying the same batches alone
   (one process): aggregate contacts/s, the median import, and the commit conflicts retried
   (counted inside `apply_import`'s own retry loop: tenacity's `before_sleep`, once per retry).
b. An analyst holding a read transaction open (another process: attached read-only, BEGIN, a
   query, the transaction kept open) during 20 sequential imports of 10k, beside the same imports
   on an identical lake with no analyst, interleaved: failed imports (must be 0) and the median
   time of an import (open + apply_import + close, as a run does it).
c. The SQL examples of docs/warehouse.md (read from it) at 1M contacts after N small imports
   (many small files): query times and footprint with no maintenance, after one `maintain(...)`,
   and on a copy of the lake maintained every M imports (the nightly job, sped up).

    .venv/bin/python bench/lake.py            # ~4 min on 2 cores; --parts bc, --imports 1000
    .venv/bin/python bench/lake.py --quick    # ~2 min: 100k contacts, 40 small imports

Contacts are San Francisco numbers (+1415...), with names, a language and metadata (city, tier,
some tags), built straight as `normalize_contacts` returns them. The lakes' catalogs are
databases of a private PostgreSQL server the bench starts on 127.0.0.1 under a temporary
directory; every process the bench starts is stopped by its PID, and the directory removed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import multiprocessing
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

import duckdb
import polars as pl
import psycopg
from psycopg import sql as psql
from tenacity import RetryCallState, Retrying

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from bench.lake_server import LakeServer, data_bytes, lake_server  # noqa: E402
from core.warehouse import lake, writer  # noqa: E402
from core.warehouse.lake import METADATA_SCHEMA, LakeLocation  # noqa: E402
from core.warehouse.maintenance import CATALOG, footprint, maintain  # noqa: E402
from core.warehouse.writer import ImportBatch, apply_import, open_warehouse  # noqa: E402
from transforms.errors import RowErrorCode  # noqa: E402
from transforms.phones import PHONE_MESSAGES  # noqa: E402
from transforms.schema import ERRORS_SCHEMA, VALID_SCHEMA  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 10_000
SMALL = 500  # contacts per import in part c
SEED_BATCH = 100_000
ORGS = 4
ORG = "acme"
AUDIENCES = ["aud_newsletter", "aud_spring_sale", None]
FIRST_NAMES = ["Ana", "Ben", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hiro", "Iman", "José"]
LAST_NAMES = ["Nguyen", "Garcia", "Smith", "Kim", "Okafor", "Rossi", "Cohen", "Patel", "Li"]
CITIES = ["San Francisco", "Oakland", "San Jose", "Berkeley", "Fremont"]
TIERS = ["basic", "premium", "gold"]
LANGUAGES = ["en-US", "es-US", "zh-Hant-TW", None]
# How long the bench waits for the processes it starts: to be ready, then to report.
START_TIMEOUT_S = 120.0
WORKER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Scale:
    seeded: int  # contacts in the lakes of parts b and c
    batches_per_org: int  # part a: imports of BATCH per organization
    imports: int  # part b: sequential imports of BATCH
    small_imports: int  # part c: N imports of SMALL
    maintain_every: int  # part c: M
    repeats: int  # runs per query median


FULL = Scale(
    seeded=1_000_000, batches_per_org=5, imports=20, small_imports=200, maintain_every=50, repeats=5
)
QUICK = Scale(
    seeded=100_000, batches_per_org=2, imports=20, small_imports=40, maintain_every=20, repeats=3
)


# --- contacts ----------------------------------------------------------------------------------


def phone(index: int) -> str:
    """A valid San Francisco number in E.164, one per index below 8M."""
    return f"+1415{2_000_000 + index}"


def contacts(indexes: Sequence[int], version: int) -> pl.DataFrame:
    """Valid rows as `normalize_contacts` returns them, for these contacts; `version` moves the
    language and the tier, so an update changes something."""
    metadata = []
    for index in indexes:
        tags = ',"tags":["vip","beta"]' if index % 5 == 0 else ""
        tier = TIERS[(index + version) % len(TIERS)]
        metadata.append(f'{{"city":"{CITIES[index % len(CITIES)]}","tier":"{tier}"{tags}}}')
    return pl.DataFrame(
        {
            "row_index": range(len(indexes)),
            "phone_number": [phone(index) for index in indexes],
            "name": [
                f"{FIRST_NAMES[index % len(FIRST_NAMES)]} "
                f"{LAST_NAMES[index // len(FIRST_NAMES) % len(LAST_NAMES)]}"
                for index in indexes
            ],
            "language": [LANGUAGES[(index + version) % len(LANGUAGES)] for index in indexes],
            "metadata": metadata,
            # What phonenumbers says of every `phone(index)`.
            "phone_type": ["fixed_line_or_mobile"] * len(indexes),
            "phone_region": ["US"] * len(indexes),
        },
        schema=VALID_SCHEMA,
    )


def missing_plus(first_row: int, count: int) -> pl.DataFrame:
    """Row errors for `count` rows whose phone lacks its `+`, from row `first_row` on."""
    return pl.DataFrame(
        {
            "row_index": range(first_row, first_row + count),
            "field": ["phoneNumber"] * count,
            "code": [str(RowErrorCode.MISSING_PLUS)] * count,
            "message": [PHONE_MESSAGES[RowErrorCode.MISSING_PLUS]] * count,
            "value": [phone(first_row + row)[1:] for row in range(count)],
        },
        schema=ERRORS_SCHEMA,
    )


def import_batch(
    org_id: str,
    import_id: str,
    indexes: Sequence[int],
    version: int,
    audience_id: str | None = None,
    failed: int = 0,
) -> ImportBatch:
    valid = contacts(indexes, version)
    return ImportBatch(
        import_id=import_id,
        org_id=org_id,
        run_id="bench",
        audience_id=audience_id,
        valid=valid,
        errors=missing_plus(valid.height, failed),
        total=valid.height + failed,
        failed=failed,
        # Acceptance order, as the API stamps it: microseconds since the epoch.
        sequence=time.time_ns() // 1000,
    )


def growing_batches(
    org_id: str, count: int, first_index: int, rng: random.Random
) -> list[ImportBatch]:
    """`count` imports of BATCH for one organization: the first all new contacts, each later one
    half new, half contacts of its earlier imports (updates)."""
    batches: list[ImportBatch] = []
    seen = 0
    for k in range(count):
        new = BATCH if k == 0 else BATCH // 2
        indexes = list(range(seen, seen + new)) + rng.sample(range(seen), BATCH - new)
        seen += new
        indexes = [first_index + index for index in indexes]
        batches.append(import_batch(org_id, f"imp_{org_id}_{k:03d}", indexes, version=k))
    return batches


def mixed_batch(import_id: str, size: int, existing: int, first_new: int, k: int) -> ImportBatch:
    """Half of `size` contacts already in the lake (of the `existing` first), half new from
    `first_new` on, one audience of three, 1% rows with an error."""
    rng = random.Random(k)
    indexes = rng.sample(range(existing), size // 2) + list(range(first_new, first_new + size // 2))
    return import_batch(
        ORG, import_id, indexes, version=k, audience_id=AUDIENCES[k % 3], failed=size // 100
    )


def seed_lake(lakes: LakeServer, rows: int) -> LakeLocation:
    """A lake whose organization ORG has `rows` contacts, imported in batches of SEED_BATCH."""
    location = lakes.fresh("seed")
    with open_warehouse(location) as con:
        for k, first in enumerate(range(0, rows, SEED_BATCH)):
            indexes = range(first, min(first + SEED_BATCH, rows))
            batch = import_batch(ORG, f"imp_seed_{k:02d}", indexes, 0, AUDIENCES[k % 3], 10)
            apply_import(con, batch, datetime.now(UTC))
    return location


# --- processes ---------------------------------------------------------------------------------

SPAWN = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB's threads


def count_conflict_retries() -> list[int]:
    """From now on in this process, apply_import's commit-conflict retries are counted in the
    returned list's one item (its own retry loop, given a `before_sleep`: once per retry)."""
    retries = [0]
    original = writer.retrying_conflicts

    def counted(_state: RetryCallState) -> None:
        retries[0] += 1

    def counting() -> Retrying:
        return original().copy(before_sleep=counted)

    writer.retrying_conflicts = counting
    return retries


def import_worker(
    location: LakeLocation, batches: list[ImportBatch], start: Barrier, results: Queue
) -> None:
    """Apply the batches in order on one connection, from when every worker is ready; report
    (import id, seconds, conflicts retried) of each import."""
    retries = count_conflict_retries()
    doing = "opening the lake"
    try:
        with open_warehouse(location) as con:
            start.wait(timeout=START_TIMEOUT_S)
            applied = []
            for batch in batches:
                doing = batch.import_id
                started, retried_before = time.perf_counter(), retries[0]
                apply_import(con, batch, datetime.now(UTC))
                seconds = time.perf_counter() - started
                applied.append((batch.import_id, seconds, retries[0] - retried_before))
    except Exception as exc:
        results.put(f"{doing}: {exc!r}")
        raise
    results.put(applied)


def analyst(location: LakeLocation, ready: Event, done: Event, results: Queue) -> None:
    """Attach read-only, BEGIN, query, and keep the transaction open until `done`; then the same
    query in it (the same snapshot: the same count), and after COMMIT (every import)."""
    query = "SELECT count(*), count(DISTINCT language) FROM contacts"
    with lake.connect(location, read_only=True) as con:
        con.begin()
        [before] = con.execute(query).fetchall()
        ready.set()
        done.wait(timeout=WORKER_TIMEOUT_S)
        [still] = con.execute(query).fetchall()
        con.commit()
        [after] = con.execute(query).fetchall()
    results.put((before[0], still[0], after[0]))


def stop_all(processes: list[BaseProcess]) -> None:
    """Wait for each process, then stop (SIGTERM, by its PID) any still running."""
    deadline = time.monotonic() + 30
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()


# --- part a: organizations importing at once ---------------------------------------------------


@dataclass(frozen=True)
class Writers:
    wall_s: float
    imports: list[tuple[str, float, int]]  # import id, seconds, conflicts retried

    @property
    def median_ms(self) -> float:
        return statistics.median(seconds for _, seconds, _ in self.imports) * 1000

    def retries(self, *, first: bool) -> int:
        """Retries of the organizations' first imports (they only insert), or of the others."""
        return sum(n for import_id, _, n in self.imports if import_id.endswith("_000") == first)


def run_writers(location: LakeLocation, work: list[list[ImportBatch]]) -> Writers:
    """One process per list of batches, all starting together."""
    with open_warehouse(location):
        pass  # the tables exist before the writers race
    start, results = SPAWN.Barrier(len(work) + 1), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=import_worker, args=(location, batches, start, results))
        for batches in work
    ]
    try:
        for process in processes:
            process.start()
        start.wait(timeout=START_TIMEOUT_S)
        started = time.perf_counter()
        reports = [results.get(timeout=WORKER_TIMEOUT_S) for _ in processes]
        wall = time.perf_counter() - started
    finally:
        stop_all(processes)
    if failures := [report for report in reports if isinstance(report, str)]:
        raise RuntimeError(f"writers failed: {failures}")
    return Writers(wall_s=wall, imports=[applied for report in reports for applied in report])


def check_one_row_per_phone(location: LakeLocation, expected: dict[str, int]) -> None:
    with lake.connect(location, read_only=True) as con:
        rows = con.execute(
            """SELECT org_id, count(*), count(DISTINCT phone_number) FROM contacts
               GROUP BY org_id"""
        ).fetchall()
    found = {org: count for org, count, distinct in rows if count == distinct}
    assert found == expected, f"contacts per organization: {rows}, expected {expected}"


def part_a(scale: Scale, lakes: LakeServer) -> None:
    rng = random.Random(1)
    # Disjoint contacts per organization: alone, one organization gets exactly the same rows.
    per_org = [
        growing_batches(f"org{org}", scale.batches_per_org, org * 1_000_000, rng)
        for org in range(ORGS)
    ]
    # Alone: the same batches in the order they would interleave, under one organization id.
    alone = [
        dataclasses.replace(batches[k], org_id="org_alone", import_id=f"imp_alone_{org}_{k:03d}")
        for k in range(scale.batches_per_org)
        for org, batches in enumerate(per_org)
    ]
    contacts_in = sum(batch.valid.height for batch in alone)
    together_lake, alone_lake = lakes.fresh("a_together"), lakes.fresh("a_alone")
    together = run_writers(together_lake, per_org)
    by_itself = run_writers(alone_lake, [alone])
    per_org_rows = BATCH + (scale.batches_per_org - 1) * BATCH // 2
    check_one_row_per_phone(together_lake, {f"org{org}": per_org_rows for org in range(ORGS)})
    check_one_row_per_phone(alone_lake, {"org_alone": ORGS * per_org_rows})

    print(
        f"\na. {ORGS} organizations importing at once, {scale.batches_per_org} imports of "
        f"{BATCH:,} each ({contacts_in:,} contacts, half of them updates after each first "
        "import), vs 1 organization applying the same imports alone"
    )
    print(
        f"   {'':<26}{'wall s':>8}{'contacts/s':>12}{'median import ms':>18}"
        f"{'retries: first imports':>24}{'later':>7}"
    )
    for label, run in ((f"{ORGS} at once (processes)", together), ("1 alone", by_itself)):
        print(
            f"   {label:<26}{run.wall_s:>8.1f}{contacts_in / run.wall_s:>12,.0f}"
            f"{run.median_ms:>18.0f}{run.retries(first=True):>24}{run.retries(first=False):>7}"
        )
    print(
        f"   throughput at once / alone: {by_itself.wall_s / together.wall_s:.2f}x. Retries are "
        f"commit conflicts, each redoing its whole transaction, over {ORGS} first imports (all "
        f"new contacts) and {len(alone) - ORGS} later ones (half updates)"
    )


# --- part b: an analyst's open transaction -------------------------------------------------------


def timed_import(location: LakeLocation, batch: ImportBatch) -> float | None:
    """Seconds to open the lake, apply the batch and close, as a run does; None if it failed."""
    started = time.perf_counter()
    try:
        with open_warehouse(location) as con:
            apply_import(con, batch, datetime.now(UTC))
    except Exception as exc:
        print(f"   {batch.import_id} failed: {exc}")
        return None
    return time.perf_counter() - started


def part_b(scale: Scale, lakes: LakeServer, seed: LakeLocation) -> None:
    batches = [
        mixed_batch(f"imp_b_{k:02d}", BATCH, scale.seeded, scale.seeded + k * BATCH // 2, k)
        for k in range(scale.imports)
    ]
    alone, watched = lakes.copy(seed, "b_alone"), lakes.copy(seed, "b_analyst")
    ready, done, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    reader = SPAWN.Process(target=analyst, args=(watched, ready, done, results))
    lakes_b = {"no analyst": alone, "analyst open": watched}
    times: dict[str, list[float | None]] = {label: [] for label in lakes_b}
    try:
        reader.start()
        assert ready.wait(timeout=START_TIMEOUT_S), "the analyst never opened its transaction"
        # Interleaved, each lake first in turn: both see the same machine load.
        for k, batch in enumerate(batches):
            for label in sorted(lakes_b, reverse=k % 2 == 1):
                times[label].append(timed_import(lakes_b[label], batch))
        done.set()
        before, still, after = results.get(timeout=WORKER_TIMEOUT_S)
    finally:
        done.set()
        stop_all([reader])
    created = scale.imports * (BATCH // 2)

    print(
        f"\nb. {scale.imports} sequential imports of {BATCH:,} into {scale.seeded:,} contacts, "
        "with an analyst's read transaction open all along vs none (same imports, interleaved)"
    )
    print(f"   {'':<16}{'failed':>8}{'median ms':>11}{'min ms':>8}{'max ms':>8}")
    medians = {}
    for label, seconds in times.items():
        ok = [s for s in seconds if s is not None] or [float("nan")]
        medians[label] = statistics.median(ok)
        print(
            f"   {label:<16}{seconds.count(None):>8}{medians[label] * 1000:>11.0f}"
            f"{min(ok) * 1000:>8.0f}{max(ok) * 1000:>8.0f}"
        )
    ratio = medians["analyst open"] / medians["no analyst"]
    print(f"   median with / without the analyst: {ratio:.2f}x")
    print(
        f"   the analyst's count: {before:,} at BEGIN, {still:,} after the imports in the same "
        f"transaction, {after:,} after COMMIT (expected {scale.seeded:,} / {scale.seeded:,} / "
        f"{scale.seeded + created:,})"
    )
    lakes.drop(alone)
    lakes.drop(watched)


# --- part c: the documented queries, many small files, maintenance -------------------------------


def documented_examples(org_id: str, audience_id: str, import_id: str) -> list[tuple[str, str]]:
    """(the sentence before it, the SQL) of each ```sql block under "### Examples" in
    docs/warehouse.md, with the ids it uses replaced by these."""
    text = (REPO / "docs" / "warehouse.md").read_text()
    section = text.split("### Examples", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    examples = re.findall(r"([^\n]+)\n\n```sql\n(.*?)```", section, flags=re.DOTALL)
    assert examples, "no ```sql blocks under ### Examples in docs/warehouse.md"
    replaced = []
    for title, query in examples:
        assert "'demo'" in query, f"an example without the 'demo' organization: {title}"
        query = query.replace("'demo'", f"'{org_id}'")
        query = query.replace("'aud_abc123'", f"'{audience_id}'")
        query = query.replace("'imp_1b9935202c3ce579d0a939fa'", f"'{import_id}'")
        replaced.append((title.rstrip(":"), query))
    return replaced


def parenthesized(query: str) -> str:
    """The query with each JSON arrow (`metadata->>'tier'`) in parentheses: DuckDB binds `->>`
    looser than AND, so `org_id = 'x' AND metadata->>'tier' = 'y'` reads
    `((org_id = 'x' AND metadata)->>'tier') = 'y'` and fails."""
    return re.sub(r"(\w+\s*->>?\s*'[^']*')", r"(\1)", query)


def runnable(
    location: LakeLocation, examples: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The examples as they run here, and notes: one that fails as written runs with its arrows
    parenthesized, its title starred (a note says why)."""
    kept, notes = [], []
    with lake.connect(location, read_only=True) as con:
        for title, query in examples:
            try:
                con.sql(query).fetchall()
                kept.append((title, query))
            except duckdb.Error as exc:
                fixed = parenthesized(query)
                con.sql(fixed).fetchall()  # if this fails too, the bench stops here
                kept.append((f"*{title}", fixed))
                notes.append(f"*{title[:40]}: fails as written ({str(exc).splitlines()[0]})")
    return kept, notes


def inlined_rows(location: LakeLocation) -> int:
    """Rows DuckLake keeps in catalog tables, not files, until a flush: small inserts, and the
    deletes of a few rows from a file."""
    with psycopg.connect(location.catalog_url) as con:
        tables = con.execute(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = %s AND table_name ~ '^ducklake_inlined_(data|delete)_[0-9]'""",
            [METADATA_SCHEMA],
        ).fetchall()
        counted = psql.SQL("SELECT count(*) FROM {}.{}")
        return sum(
            con.execute(
                counted.format(psql.Identifier(METADATA_SCHEMA), psql.Identifier(table))
            ).fetchall()[0][0]
            for (table,) in tables
        )


def size(con: duckdb.DuckDBPyConnection, location: LakeLocation) -> dict[str, str]:
    """`maintenance.footprint`, the contacts table's part of it, what the catalog holds inlined,
    and the bytes on disk."""
    found = footprint(con)
    [(contacts_data, contacts_deletes)] = con.execute(
        f"""SELECT
            (SELECT count(*) FROM {CATALOG}.ducklake_data_file f
             WHERE f.table_id = t.table_id AND f.end_snapshot IS NULL),
            (SELECT count(*) FROM {CATALOG}.ducklake_delete_file f
             WHERE f.table_id = t.table_id AND f.end_snapshot IS NULL)
            FROM {CATALOG}.ducklake_table t
            WHERE t.table_name = 'contacts' AND t.end_snapshot IS NULL"""
    ).fetchall()
    return {
        "data files": f"{found.data_files:,}",
        "delete files": f"{found.delete_files:,}",
        "contacts: data files": f"{contacts_data:,}",
        "contacts: delete files": f"{contacts_deletes:,}",
        "rows and deletes inlined in the catalog": f"{inlined_rows(location):,}",
        "snapshots": f"{found.snapshots:,}",
        "MiB on disk": f"{data_bytes(location) / 2**20:.1f}",
    }


@dataclass(frozen=True)
class State:
    """A lake's size and the examples' median times (and results, to compare states)."""

    size: dict[str, str]
    seconds: dict[str, float]
    results: dict[str, tuple[int, int]]


def measure(
    locations: dict[str, LakeLocation], examples: list[tuple[str, str]], repeats: int
) -> dict[str, State]:
    """Each example's median time on each lake, the lakes taking turns run by run (the same
    machine load for all) after a first run each that is not counted (it fills the connection's
    catalog cache), and the lakes' sizes."""
    seconds: dict[str, dict[str, float]] = {name: {} for name in locations}
    results: dict[str, dict[str, tuple[int, int]]] = {name: {} for name in locations}
    with contextlib.ExitStack() as stack:
        cons = {
            name: stack.enter_context(lake.connect(location, read_only=True))
            for name, location in locations.items()
        }
        for title, query in examples:
            runs: dict[str, list[float]] = {name: [] for name in cons}
            for _ in range(repeats + 1):
                for name, con in cons.items():
                    started = time.perf_counter()
                    frame = con.sql(query).pl()
                    runs[name].append(time.perf_counter() - started)
                    results[name][title] = (frame.height, int(frame.hash_rows(seed=1).sum()))
            for name, times in runs.items():
                seconds[name][title] = statistics.median(times[1:])
        return {
            name: State(size(con, locations[name]), seconds[name], results[name])
            for name, con in cons.items()
        }


def maintain_now(location: LakeLocation) -> float:
    """Seconds for one maintenance run. Nothing reads these lakes, so snapshots and files are
    expired at once (the nightly job keeps 30 days and 24 hours)."""
    started = time.perf_counter()
    with lake.connect(location) as con:
        maintain(con, keep_snapshots=timedelta(0), file_grace=timedelta(0))
    return time.perf_counter() - started


def timing_row(label: str, seconds: list[float]) -> str:
    """ms in each state, then the second and third against the first."""
    cells = "".join(f"{s * 1000:>13.1f}" for s in seconds)
    ratios = "".join(f"{s / seconds[0]:>11.2f}x" for s in seconds[1:])
    return f"   {label[:43]:<44}{cells}{ratios}"


def part_c(scale: Scale, lakes: LakeServer, seed: LakeLocation) -> None:
    n, every = scale.small_imports, scale.maintain_every
    plain, kept = lakes.copy(seed, "c_plain"), lakes.copy(seed, "c_maintained")
    import_s: dict[str, list[float]] = {"plain": [], "kept": []}
    maintain_s = []
    with open_warehouse(plain) as plain_con, open_warehouse(kept) as kept_con:
        for k in range(n):
            first_new = scale.seeded + k * SMALL // 2
            batch = mixed_batch(f"imp_c_{k:04d}", SMALL, scale.seeded, first_new, k)
            now = datetime.now(UTC)  # the same on both lakes: the same rows
            for name, con in (("plain", plain_con), ("kept", kept_con)):
                started = time.perf_counter()
                apply_import(con, batch, now)
                import_s[name].append(time.perf_counter() - started)
            if (k + 1) % every == 0:
                maintain_s.append(maintain_now(kept))
    once = lakes.copy(plain, "c_once")
    one_run_s = maintain_now(once)
    examples, notes = runnable(plain, documented_examples(ORG, AUDIENCES[1], f"imp_c_{n // 2:04d}"))
    compared = {"none": plain, "after one": once, f"every {every}": kept}
    states = measure(compared, examples, scale.repeats)
    for name, state in states.items():
        assert state.results == states["none"].results, f"{name}: different query results"

    print(
        f"\nc. docs/warehouse.md's {len(examples)} SQL examples on {scale.seeded:,} contacts after "
        f"N = {n} imports of {SMALL} (median of {scale.repeats} runs, ms): no maintenance, "
        f"after one maintain() at the end (on a copy: {one_run_s:.1f} s), and on a copy "
        f"maintained every {every} imports (median run {statistics.median(maintain_s):.1f} s)"
    )
    header = "".join(f"{name:>13}" for name in states)
    print(f"   {'footprint':<44}{header}")
    for row in states["none"].size:
        print(f"   {row:<44}" + "".join(f"{state.size[row]:>13}" for state in states.values()))
    print(f"   {'example':<44}{header}{'after/none':>12}{'every/none':>12}")
    for title, _ in examples:
        print(timing_row(title, [state.seconds[title] for state in states.values()]))
    print(timing_row("all examples", [sum(state.seconds.values()) for state in states.values()]))
    for note in notes:
        print(f"   {note}; timed with its arrows parenthesized")
    quarter = max(1, n // 4)
    print(f"   apply_import of {SMALL}, median of the first / last {quarter} imports (ms):")
    for name, label in (("plain", "no maintenance"), ("kept", f"maintained every {every}")):
        first = statistics.median(import_s[name][:quarter])
        last = statistics.median(import_s[name][-quarter:])
        print(f"   {label:<44}{first * 1000:>13.0f}{last * 1000:>13.0f}{last / first:>11.2f}x")
    for location in (plain, once, kept):
        lakes.drop(location)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k contacts, 40 small imports")
    parser.add_argument("--parts", default="abc", help="which parts to run (default: abc)")
    parser.add_argument("--imports", type=int, help="part c's N (default 200, quick 40)")
    parser.add_argument("--maintain-every", type=int, help="part c's M (default 50, quick 20)")
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    scale = dataclasses.replace(
        scale,
        small_imports=args.imports or scale.small_imports,
        maintain_every=args.maintain_every or scale.maintain_every,
    )
    print(f"duckdb {duckdb.__version__}, polars {pl.__version__}; {scale}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oliai-bench-") as tmp, lake_server(Path(tmp)) as lakes:
        if "a" in args.parts:
            part_a(scale, lakes)
        if "b" in args.parts or "c" in args.parts:
            seed_started = time.perf_counter()
            seed = seed_lake(lakes, scale.seeded)
            print(
                f"\nseeded {scale.seeded:,} contacts in {time.perf_counter() - seed_started:.1f} s"
            )
            if "b" in args.parts:
                part_b(scale, lakes, seed)
            if "c" in args.parts:
                part_c(scale, lakes, seed)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
