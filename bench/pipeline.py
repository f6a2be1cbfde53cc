"""Where one import's time goes, and whether the warehouse slows down as it grows.

1. One import of 10k contacts into a lake already holding 1M: each stage of the real job (the
   functions its steps call, the staging files between them, the lake write) beside a bare
   pipeline that does the least to get the same contacts in: orjson -> Polars -> phonenumbers on
   distinct values -> DELETE + INSERT on the lake. Medians of several runs, each on a fresh copy
   of the 1M-row lake.
2. 100 sequential imports of 10k through `apply_import` into one lake (1M contacts at the end):
   time per batch at batch 1, 10, 50 and 100.
3. The upsert statement alone on the 1M-row table: DELETE + INSERT on the lake (what
   `apply_import` runs) beside its baseline, the same on the keyless DuckDB file the warehouse
   was before the lake (schema versions 2-3), and on that file the same with the version-1
   primary key, `INSERT ... ON CONFLICT` (needs the key) and MERGE INTO, each checked to leave
   exactly one row per (org, phone) and the same rows as the others.

    .venv/bin/python bench/pipeline.py            # ~4 min on 2 cores (busy); --parts 13
    .venv/bin/python bench/pipeline.py --quick    # ~30 s: 100k seeded rows, 10 batches

The lakes' catalogs are databases of a private PostgreSQL server the bench starts on 127.0.0.1
and stops at the end; everything is written under a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import phonenumbers
import polars as pl

sys.path[0] = str(Path(__file__).resolve().parents[1])  # run as a script from anywhere

from bench.lake_server import LakeServer, lake_server  # noqa: E402
from core import staging  # noqa: E402
from core.landing import land_request, read_landed_request  # noqa: E402
from core.warehouse import lake  # noqa: E402
from core.warehouse.lake import LakeLocation  # noqa: E402
from core.warehouse.writer import (  # noqa: E402
    TABLES,
    ImportBatch,
    apply_import,
    open_warehouse,
    read_existing,
)
from transforms import contacts_frame, normalize_contacts, plan_upsert  # noqa: E402

ORG = "org_bench"
PHONE_BASE = 9_000_000_000  # +91 9xxxxxxxxx: valid Indian mobile numbers
BATCH = 10_000
WIRE = ("name", "phoneNumber", "language")
CITIES = ["Mumbai", "Delhi", "Pune", "Chennai", None]
LANGUAGES = ["hi-IN", "en-IN", "ta-IN", None]


@dataclass(frozen=True)
class Scale:
    seeded: int  # contacts already in the warehouse for part 1 and 3
    batches: int  # sequential imports of BATCH contacts in part 2
    repeats: int  # runs per median in parts 1 and 3


FULL = Scale(seeded=1_000_000, batches=100, repeats=5)
QUICK = Scale(seeded=100_000, batches=10, repeats=3)


# --- data ------------------------------------------------------------------------------------


def written(index: int, rng: random.Random) -> str:
    """The phone of contact `index`, written the way clients do."""
    digits = str(PHONE_BASE + index)
    return rng.choice(
        [f"+91{digits}", f"+91 {digits[:5]} {digits[5:]}", f"+91-{digits[:5]}-{digits[5:]}"]
    )


def request_body(indexes: list[int], seed: int) -> bytes:
    """A bulk request for these contact indexes; 2% of rows have a phone without its `+`."""
    rng = random.Random(seed)
    contacts: list[dict[str, Any]] = []
    for index in indexes:
        contact: dict[str, Any] = {
            "name": f"  Contact\u00a0{index} ",
            "phoneNumber": written(index, rng),
            "tier": rng.choice(["gold", "silver"]),
            "score": index % 97,
        }
        if (language := rng.choice(LANGUAGES)) is not None:
            contact["language"] = language
        if (city := rng.choice(CITIES)) is not None:
            contact["city"] = city
        if rng.random() < 0.02:
            contact["phoneNumber"] = str(PHONE_BASE + index)
        contacts.append(contact)
    return orjson.dumps({"contacts": contacts})


def one_import_indexes(seeded: int, rng: random.Random) -> list[int]:
    """Half already in the warehouse (updates), half new, 3% repeated within the request."""
    half = BATCH // 2
    indexes = rng.sample(range(seeded), half) + list(range(seeded, seeded + half))
    rng.shuffle(indexes)
    repeats = BATCH * 3 // 100
    indexes[-repeats:] = rng.sample(indexes[:-repeats], repeats)
    return indexes


# The columns every variant writes (the sequence columns stay NULL: rows from before sequences).
WRITTEN = (
    "org_id, phone_number, name, language, metadata, created_at, updated_at, "
    "created_import_id, updated_import_id"
)


def seed_file(path: Path, rows: int) -> None:
    """A DuckDB file with the keyless contacts table (the warehouse before the lake)."""
    now = datetime.now(UTC)
    with duckdb.connect(str(path)) as con:
        con.execute(TABLES["contacts"])
        con.execute(
            f"""INSERT INTO contacts ({WRITTEN})
               SELECT ?, '+91' || (? + i)::VARCHAR, 'Seed ' || i::VARCHAR,
                      CASE WHEN i % 3 = 0 THEN 'en-IN' END,
                      ('{{"seed":' || i::VARCHAR || ',"tier":"silver"}}')::JSON,
                      ?, ?, 'imp_seed', 'imp_seed'
               FROM range(?) t(i)""",
            [ORG, PHONE_BASE, now, now, rows],
        )
        con.execute("CHECKPOINT")


def seed_lake(lakes: LakeServer, file: Path) -> LakeLocation:
    """A lake holding the file's contacts, row for row."""
    location = lakes.fresh("seed")
    with open_warehouse(location) as con:
        con.execute(f"ATTACH '{file}' AS seed_file (READ_ONLY)")
        con.execute("INSERT INTO contacts SELECT * FROM seed_file.contacts")
        con.execute("DETACH seed_file")
    return location


# --- timing ----------------------------------------------------------------------------------


class Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}

    @contextmanager
    def lap(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = self.laps.get(name, 0.0) + time.perf_counter() - started


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f}"


# --- part 1: one import, stage by stage ------------------------------------------------------


def real_pipeline(
    body: bytes, root: Path, warehouse: LakeLocation, import_id: str
) -> dict[str, float]:
    """The job's work in its order: land, read, frame, normalize, stage, then the write step."""
    watch = Stopwatch()
    landed = land_request(root / "landing", ORG, import_id, body)
    with watch.lap("read landed JSON (orjson)"):
        contacts = read_landed_request(landed).contacts
    with watch.lap("contacts_frame"):
        frame = contacts_frame(contacts)
    with watch.lap("normalize_contacts"):
        normalized = normalize_contacts(frame)
    with watch.lap("staging parquet write + read"):
        valid_path = staging.valid_contacts_path(root / "staging", import_id)
        errors_path = staging.row_errors_path(root / "staging", import_id)
        staging.write_frame(normalized.valid, valid_path)
        staging.write_frame(normalized.errors, errors_path)
        valid, errors = pl.read_parquet(valid_path), pl.read_parquet(errors_path)
    batch = batch_of(import_id, valid, errors)
    asked = time.perf_counter()
    with open_warehouse(warehouse) as con:
        watch.laps["open warehouse"] = time.perf_counter() - asked
        # Measured apart on the same state, then again inside apply_import (which includes it).
        with watch.lap("read existing + plan_upsert"):
            plan_upsert(batch.valid, read_existing(con, batch), batch.import_id)
        applying = time.perf_counter()
        apply_import(con, batch, datetime.now(UTC))
        applied = time.perf_counter()
    watch.laps["upsert + commit (apply - plan)"] = (
        applied - applying - watch.laps["read existing + plan_upsert"]
    )
    watch.laps["close"] = time.perf_counter() - applied
    watch.laps["total"] = sum(watch.laps.values())
    return watch.laps


def batch_of(import_id: str, valid: pl.DataFrame, errors: pl.DataFrame) -> ImportBatch:
    failed = errors["row_index"].n_unique() if errors.height else 0
    return ImportBatch(
        import_id=import_id,
        org_id=ORG,
        run_id="bench",
        audience_id=None,
        valid=valid,
        errors=errors,
        total=valid.height + failed,
        failed=failed,
    )


def e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def bare_pipeline(
    body: bytes, root: Path, warehouse: LakeLocation, import_id: str
) -> dict[str, float]:
    """The least that gets the same contacts in: no error rows, no metadata merge."""
    watch = Stopwatch()
    landed = land_request(root / "landing", ORG, import_id, body)
    with watch.lap("read landed JSON (orjson)"):
        contacts = orjson.loads(landed.read_bytes())["contacts"]
    with watch.lap("to Polars"):
        frame = pl.DataFrame(
            {
                "raw": [c.get("phoneNumber") for c in contacts],
                "name": [" ".join(c["name"].split()) for c in contacts],
                "language": [c.get("language") for c in contacts],
                "metadata": [
                    orjson.dumps({k: v for k, v in c.items() if k not in WIRE}).decode()
                    for c in contacts
                ],
            }
        )
    with watch.lap("phonenumbers on distinct"):
        raws = frame["raw"].unique().drop_nulls()
        parsed = pl.DataFrame(
            {"raw": raws, "phone_number": [e164(raw) for raw in raws]},
            schema={"raw": pl.String, "phone_number": pl.String},
        )
        rows = (
            frame.join(parsed, on="raw", how="left")
            .drop_nulls("phone_number")
            .unique("phone_number", keep="last", maintain_order=True)
        )
    now = datetime.now(UTC)
    with watch.lap("open warehouse"):
        con = lake.connect(warehouse)
    with watch.lap("DELETE + INSERT + commit"):
        con.register("rows", rows)
        con.begin()
        con.execute(
            """DELETE FROM contacts
               WHERE org_id = ? AND phone_number IN (SELECT phone_number FROM rows)""",
            [ORG],
        )
        con.execute(
            f"""INSERT INTO contacts ({WRITTEN})
               SELECT ?, phone_number, name, language, metadata::JSON, ?, ?, ?, ?
               FROM rows""",
            [ORG, now, now, import_id, import_id],
        )
        con.commit()
    with watch.lap("close"):
        con.close()
    watch.laps["total"] = sum(watch.laps.values())
    return watch.laps


def part_one(scale: Scale, root: Path, lakes: LakeServer, seed: LakeLocation) -> None:
    rng = random.Random(1)
    body = request_body(one_import_indexes(scale.seeded, rng), seed=2)
    real_runs, bare_runs = [], []
    for repeat in range(scale.repeats):
        for runner, runs in ((real_pipeline, real_runs), (bare_pipeline, bare_runs)):
            name = f"one_{repeat}_{runner.__name__}"
            location = lakes.copy(seed, name)
            runs.append(runner(body, root / name, location, f"imp_one_{repeat}"))
            lakes.drop(location)
    real, bare = medians(real_runs), medians(bare_runs)
    print(
        f"\n1. One import of {BATCH:,} contacts into {scale.seeded:,} "
        f"(median of {scale.repeats}, ms)"
    )
    print(f"   {'real job stage':<34}{'ms':>9}    {'bare pipeline stage':<34}{'ms':>9}")
    for (real_name, real_s), (bare_name, bare_s) in side_by_side(real, bare):
        print(f"   {real_name:<34}{real_s}    {bare_name:<34}{bare_s}")
    print(f"   ratio real / bare (total): {real['total'] / bare['total']:.2f}x")


def side_by_side(
    left: dict[str, float], right: dict[str, float]
) -> Iterator[tuple[tuple[str, str], tuple[str, str]]]:
    """Rows of (name, ms) for two stage lists, `total` last on both sides."""
    columns = [[(n, ms(s)) for n, s in side.items() if n != "total"] for side in (left, right)]
    depth = max(map(len, columns))
    padded = [column + [("", "")] * (depth - len(column)) for column in columns]
    yield from zip(*padded, strict=True)
    yield ("total", ms(left["total"])), ("total", ms(right["total"]))


# --- part 2: sequential batches ----------------------------------------------------------------


def part_two(scale: Scale, lakes: LakeServer) -> None:
    """Batch k brings BATCH contacts: 95% new, 5% seen in an earlier batch (updates)."""
    location = lakes.fresh("sequential")
    rng = random.Random(3)
    new_per_batch = BATCH * 95 // 100
    apply_times, write_times = [], []
    started = time.perf_counter()
    for k in range(scale.batches):
        first = k * new_per_batch
        indexes = list(range(first, first + new_per_batch))
        indexes += rng.sample(range(max(first, BATCH)), BATCH - new_per_batch)
        contacts = orjson.loads(request_body(indexes, seed=k))["contacts"]
        normalized = normalize_contacts(contacts_frame(contacts))
        batch = batch_of(f"imp_seq_{k:03d}", normalized.valid, normalized.errors)
        write_started = time.perf_counter()
        with open_warehouse(location) as con:
            apply_started = time.perf_counter()
            apply_import(con, batch, datetime.now(UTC))
            apply_times.append(time.perf_counter() - apply_started)
        write_times.append(time.perf_counter() - write_started)
    elapsed = time.perf_counter() - started
    with lake.connect(location, read_only=True) as con:
        [(rows, distinct)] = con.sql(
            "SELECT count(*), count(DISTINCT (org_id, phone_number)) FROM contacts"
        ).fetchall()
    assert rows == distinct, "two rows for one (org, phone)"
    print(
        f"\n2. {scale.batches} sequential imports of {BATCH:,} through apply_import "
        f"({rows:,} contacts at the end, {elapsed:.0f} s in all incl. normalizing)"
    )
    print(f"   {'batch':>7}{'apply_import ms':>17}{'open+apply+close ms':>22}")
    marks = sorted({1, 10, 50, scale.batches} & set(range(1, scale.batches + 1)))
    for mark in marks:
        print(f"   {mark:>7}{ms(apply_times[mark - 1]):>17}{ms(write_times[mark - 1]):>22}")
    last = scale.batches
    window = min(5, last)
    head = statistics.median(apply_times[:window])
    tail = statistics.median(apply_times[-window:])
    print(
        f"   batch {last} / batch 1: apply {apply_times[-1] / apply_times[0]:.2f}x, "
        f"open+apply+close {write_times[-1] / write_times[0]:.2f}x (goal <= 1.2)"
    )
    print(
        f"   median of the last {window} / first {window}: apply {tail / head:.2f}x, "
        f"open+apply+close "
        f"{statistics.median(write_times[-window:]) / statistics.median(write_times[:window]):.2f}x"
    )
    spikes = [i + 1 for i, t in enumerate(apply_times) if t > 2 * statistics.median(apply_times)]
    print(f"   batches over 2x the median apply time: {spikes or 'none'}")


# --- part 3: upsert strategies -------------------------------------------------------------------

INSERT_ON_CONFLICT = f"""
INSERT INTO contacts ({WRITTEN})
SELECT $org, phone_number, name, language, metadata::JSON, $now, $now, $imp, $imp FROM planned
ON CONFLICT (org_id, phone_number) DO UPDATE SET
    name = excluded.name, language = excluded.language, metadata = excluded.metadata,
    updated_at = excluded.updated_at, updated_import_id = excluded.updated_import_id"""

# As apply_import does it (`planned` carries created_at / created_import_id of existing rows),
# except that apply_import deletes by rowid the rows it has just read (part 1 times that).
DELETE_THEN_INSERT = [
    """DELETE FROM contacts
       WHERE org_id = $org AND phone_number IN (SELECT phone_number FROM planned)""",
    f"""INSERT INTO contacts ({WRITTEN})
       SELECT $org, phone_number, name, language, metadata::JSON, coalesce(created_at, $now),
              $now, coalesce(created_import_id, $imp), $imp
       FROM planned""",
]

MERGE = f"""
MERGE INTO contacts c
USING (SELECT * FROM planned) p
ON c.org_id = $org AND c.phone_number = p.phone_number
WHEN MATCHED THEN UPDATE SET
    name = p.name, language = p.language, metadata = p.metadata::JSON,
    updated_at = $now, updated_import_id = $imp
WHEN NOT MATCHED THEN INSERT ({WRITTEN}) VALUES
    ($org, p.phone_number, p.name, p.language, p.metadata::JSON, $now, $now, $imp, $imp)"""

# Where a strategy runs, each time on a fresh copy of the same seeded rows.
LAKE = "the lake"
FILE = "the keyless DuckDB file"
KEYED_FILE = "the DuckDB file with the version-1 PRIMARY KEY (org_id, phone_number)"


@dataclass(frozen=True)
class Strategy:
    statements: list[str]
    storage: str


ON_LAKE = "DELETE + INSERT, lake (apply_import)"
# The warehouse before the lake: the same-run baseline of the lake's row.
ON_FILE = "DELETE + INSERT, keyless file (before)"
STRATEGIES: dict[str, Strategy] = {
    ON_LAKE: Strategy(DELETE_THEN_INSERT, LAKE),
    ON_FILE: Strategy(DELETE_THEN_INSERT, FILE),
    "DELETE + INSERT, file, primary key (v1)": Strategy(DELETE_THEN_INSERT, KEYED_FILE),
    "INSERT ... ON CONFLICT, file, primary key": Strategy([INSERT_ON_CONFLICT], KEYED_FILE),
    "MERGE INTO, keyless file": Strategy([MERGE], FILE),
}


@dataclass(frozen=True)
class Seeds:
    """The same contacts in a DuckDB file and in a lake."""

    file: Path
    lake: LakeLocation


@dataclass(frozen=True)
class Work:
    """A fresh copy of the seeded contacts for one run: a lake, or a DuckDB file."""

    location: LakeLocation | None = None
    file: Path | None = None

    def connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if self.location is not None:
            return lake.connect(self.location, read_only=read_only)
        return duckdb.connect(str(self.file), read_only=read_only)


def fresh_copy(storage: str, name: str, seeds: Seeds, lakes: LakeServer) -> Work:
    if storage == LAKE:
        return Work(location=lakes.copy(seeds.lake, name))
    path = seeds.file.with_name(f"{name}.duckdb")
    shutil.copy(seeds.file, path)
    if storage == KEYED_FILE:
        with duckdb.connect(str(path)) as con:
            con.execute("ALTER TABLE contacts ADD PRIMARY KEY (org_id, phone_number)")
    return Work(file=path)


def remove(work: Work, lakes: LakeServer) -> None:
    if work.location is not None:
        lakes.drop(work.location)
    if work.file is not None:
        work.file.unlink()


def run_strategy(work: Work, strategy: Strategy, planned: pl.DataFrame) -> dict[str, float]:
    """Seconds for the statements, the commit and the close (DuckDB checkpoints a file at one of
    the two, and the job closes its connection straight after its write)."""
    params = {"org": ORG, "now": datetime(2030, 1, 1, tzinfo=UTC), "imp": "imp_strategy"}
    con = work.connect()
    con.register("planned", planned)
    watch = Stopwatch()
    with watch.lap("statements"):
        con.begin()
        for statement in strategy.statements:
            con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    with watch.lap("commit"):
        con.commit()
    with watch.lap("close"):
        con.close()
    watch.laps["total"] = sum(watch.laps.values())
    return watch.laps


def table_digest(work: Work) -> tuple[int, int, int]:
    """Rows, distinct (org, phone) and a hash of every column but the timestamps."""
    with work.connect(read_only=True) as con:
        [digest] = con.sql(
            """SELECT count(*), count(DISTINCT (org_id, phone_number)),
                      sum(hash(org_id, phone_number, name, language, metadata::VARCHAR,
                               created_import_id, updated_import_id))::HUGEINT % 1000000007
               FROM contacts"""
        ).fetchall()
    return digest


def part_three(scale: Scale, seeds: Seeds, lakes: LakeServer) -> None:
    rng = random.Random(1)
    body = request_body(one_import_indexes(scale.seeded, rng), seed=2)
    normalized = normalize_contacts(contacts_frame(orjson.loads(body)["contacts"]))
    with duckdb.connect(str(seeds.file), read_only=True) as con:
        batch = batch_of("imp_strategy", normalized.valid, normalized.errors)
        existing = read_existing(con, batch)
    plan = plan_upsert(batch.valid, existing, batch.import_id).rows
    planned = plan.join(
        existing.select("phone_number", "created_at", "created_import_id"),
        on="phone_number",
        how="left",
    )
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in STRATEGIES}
    digests: dict[str, tuple[int, int, int]] = {}
    for repeat in range(scale.repeats):
        for name, strategy in STRATEGIES.items():
            work = fresh_copy(strategy.storage, f"strategy_{repeat}", seeds, lakes)
            runs[name].append(run_strategy(work, strategy, planned))
            digest = table_digest(work)
            assert digest[0] == digest[1], f"{name}: two rows for one (org, phone)"
            assert digests.setdefault(name, digest) == digest
            remove(work, lakes)
    assert len(set(digests.values())) == 1, f"strategies disagree: {digests}"
    rows, distinct, _ = next(iter(digests.values()))
    print(
        f"\n3. Upsert of {plan.height:,} planned rows ({plan['is_new'].sum():,} new) into "
        f"{scale.seeded:,} (median of {scale.repeats}, ms)"
    )
    print(f"   {'strategy':<42}{'statements':>11}{'commit':>9}{'close':>9}{'total':>9}   totals")
    for name, timings in runs.items():
        median = medians(timings)
        print(
            f"   {name:<42}{ms(median['statements']):>11}{ms(median['commit'])}"
            f"{ms(median['close'])}{ms(median['total'])}   {fmt_all([t['total'] for t in timings])}"
        )
    print(f"   every strategy: {rows:,} rows, {distinct:,} distinct (org, phone), same contents")
    on_lake, on_file = medians(runs[ON_LAKE]), medians(runs[ON_FILE])
    print(
        f"   lake / keyless file: commit {on_lake['commit'] / on_file['commit']:.2f}x, "
        f"total {on_lake['total'] / on_file['total']:.2f}x"
    )
    fastest = min(runs, key=lambda name: medians(runs[name])["total"])
    print(f"   fastest here: {fastest}")


def fmt_all(seconds: list[float]) -> str:
    return " ".join(f"{s * 1000:.0f}" for s in seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k seeded rows, 10 batches")
    parser.add_argument(
        "--parts", default="123", help="which parts to run, e.g. 13 (default: all three)"
    )
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    print(
        f"duckdb {duckdb.__version__}, polars {pl.__version__}, phonenumbers "
        f"{phonenumbers.__version__}; seeded {scale.seeded:,}, batches {scale.batches}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="oliai-bench-") as tmp, lake_server(Path(tmp)) as lakes:
        root = Path(tmp)
        seed_started = time.perf_counter()
        file = root / "seed.duckdb"
        seed_file(file, scale.seeded)
        seeds = Seeds(file=file, lake=seed_lake(lakes, file))
        print(
            f"seeded {scale.seeded:,} contacts in a DuckDB file and a lake in "
            f"{time.perf_counter() - seed_started:.1f} s"
        )
        if "1" in args.parts:
            part_one(scale, root, lakes, seeds.lake)
        if "3" in args.parts:
            part_three(scale, seeds, lakes)
        if "2" in args.parts:
            part_two(scale, lakes)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
