"""Check the vectorized phone path against the `parse_phone` loop, then time both.

Run: `python bench/phones.py` (`--quick`: a corpus of 200,000 keys, not 1,000,000).
Seeded, so every run sees the same keys. It first times `parse_phones` (vectorized where exact,
`parse_phone` for the rest) and the loop `check_phones` ran before, on mostly valid numbers of
the 12 countries of bench/transforms.py and of every region (both give each valid number's
E.164, type and region); the loop again with phonenumbers' own pattern cache on (off by
default: numbers of many regions then recompile phonenumbers' regexes, which outnumber Python's
cache of 512). Then it checks every key of a corpus of
example numbers, their neighbours and variants, random digits after every calling code and
malformed keys (tests/phone_corpus.py), E.164 or error code, type and region: the exit
status is 1 if any key disagrees.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# Run as a script, this folder comes first on sys.path and this file would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import phonenumbers  # noqa: E402
import polars as pl  # noqa: E402
from phonenumbers import re_util  # noqa: E402

from tests.phone_corpus import FEW_REGIONS, corpus, realistic  # noqa: E402
from transforms.phone_plans import CALLING_CODE  # noqa: E402
from transforms.phones import decide_phones, parse_phone, parse_phones  # noqa: E402

SIZES = (10_000, 100_000)
REPEATS = 3
# A loop over 100,000 numbers of every region takes ~30 s: it runs once.
LOOP_REPEATS = {10_000: REPEATS, 100_000: 1}
CORPUS = 1_000_000
MIXES = {"12 countries": FEW_REGIONS, "all regions": None}


# What both paths answer for a key; phonenumbers' `number_type` and `region_code_for_number`
# of a valid number included.
COMPARED = ("e164", "parse_code", "phone_type", "phone_region")


def loop(keys: list[str]) -> pl.DataFrame:
    """What `check_phones` did before: `parse_phone` on every distinct key."""
    return pl.DataFrame(
        [(key, *parse_phone(key)) for key in keys],
        schema={"key": pl.String, **dict.fromkeys(COMPARED, pl.String)},
        orient="row",
    )


def vectorized_parse(keys: list[str]) -> pl.DataFrame:
    """What `check_phones` does now: `decide_phones`, and `parse_phone` for the keys it leaves."""
    return parse_phones(pl.Series(keys))


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def time_batches() -> None:
    batches = {
        (mix, size): realistic(size, regions=regions)
        for mix, regions in MIXES.items()
        for size in SIZES
    }
    started = time.perf_counter()
    parse_phones(pl.Series(realistic(1_000)))
    print(
        "first batch (builds the rules, compiles the regexes):"
        f" {time.perf_counter() - started:.2f} s"
    )
    vectorized = {
        batch: median_seconds(partial(vectorized_parse, keys), REPEATS)
        for batch, keys in batches.items()
    }
    looped = {}
    for cache in (False, True):
        if cache:
            re_util.enable_pattern_cache()  # for the rest of the process
        for batch, keys in batches.items():
            looped[batch, cache] = median_seconds(partial(loop, keys), LOOP_REPEATS[len(keys)])
    print(f"medians of {REPEATS} runs (loops over 100,000 keys: 1 run)")
    print(
        f"{'numbers of':<13} {'keys':>7} {'vectorized s':>12} {'decided':>8} {'loop s':>8}"
        f" {'speed-up':>8} {'cached loop s':>13} {'speed-up':>8}"
    )
    for (mix, size), keys in batches.items():
        fast = vectorized[mix, size]
        slow, cached = looped[(mix, size), False], looped[(mix, size), True]
        decided = decide_phones(pl.Series(keys)).height / len(keys)
        print(
            f"{mix:<13} {size:>7,} {fast:>12.4f} {decided:>8.2%} {slow:>8.3f}"
            f" {slow / fast:>7.1f}x {cached:>13.3f} {cached / fast:>7.1f}x"
        )


def check_corpus(size: int) -> int:
    """Disagreements of `parse_phones` with `parse_phone` on every key of the corpus."""
    started = time.perf_counter()
    keys = corpus(size)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    fast = vectorized_parse(keys)
    vectorized = time.perf_counter() - started
    decided = decide_phones(pl.Series(keys))["key"]
    re_util.enable_pattern_cache()  # the same results, sooner
    started = time.perf_counter()
    expected = loop(keys)
    looped = time.perf_counter() - started
    wrong = expected.join(fast, on="key", how="full", suffix="_fast", nulls_equal=True).filter(
        pl.col("key").is_null()
        | pl.col("key_fast").is_null()
        | pl.any_horizontal(pl.col(name).ne_missing(pl.col(f"{name}_fast")) for name in COMPARED)
    )
    left = (
        pl.Series(sorted(set(keys) - set(decided)), dtype=pl.String)
        .str.extract(CALLING_CODE, 1)
        .value_counts(sort=True)
    )
    print(
        f"\ncorpus: {len(keys):,} keys ({generated:.1f} s to generate), vectorized in"
        f" {vectorized:.2f} s, parse_phone loop (pattern cache on) in {looped:.1f} s"
    )
    print(
        f"decided by the vectorized path: {decided.len() / len(keys):.2%};"
        " the rest by calling code:"
    )
    print("  " + ", ".join(f"+{code}: {count:,}" for code, count in left.iter_rows()))
    types = expected.filter(pl.col("e164").is_not_null())["phone_type"].value_counts(sort=True)
    print("valid numbers by type: " + ", ".join(f"{t}: {n:,}" for t, n in types.iter_rows()))
    print(f"disagreements with parse_phone (E.164, code, type, region): {wrong.height}")
    if wrong.height:
        print(wrong.head(20))
    return wrong.height


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a corpus of 200,000 keys")
    args = parser.parse_args()
    print(f"phonenumbers {phonenumbers.__version__}, polars {pl.__version__}")
    time_batches()
    return 1 if check_corpus(200_000 if args.quick else CORPUS) else 0


if __name__ == "__main__":
    sys.exit(main())
