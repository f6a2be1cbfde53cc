"""`warm_phonenumbers`, which the forkserver runs before forking run workers: afterwards,
checking a number of any region compiles no regular expression (a cold worker compiled a
region's patterns on its first number from there).

Checked in a fresh interpreter: phonenumbers keeps what a process compiled, so a test process
that has parsed numbers before (or imported the forkserver's warm-up) would prove nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from tests.phone_corpus import corpus, example_numbers
from transforms.phones import parse_phone, warm_phonenumbers

REPO = Path(__file__).resolve().parents[2]
MODULE = "tests.unit.test_phone_warmup"  # as the fresh interpreter imports it, from REPO
# Every base case of the exactness corpus once (~33,500 keys; more would only add random draws).
CORPUS_KEYS = 40_000


def every_example() -> list[tuple[str, str | None]]:
    """(digits, country): the exactness corpus's keys (every example number of every region and
    type, their neighbours and national-prefix variants, every calling code at every length,
    keys refused early), and every example's national number as dialled in each region of its
    calling code (`defaultCountry`)."""
    international: list[tuple[str, str | None]] = [(key, None) for key in corpus(CORPUS_KEYS)]
    dialled = [
        (national, region)
        for code, national in example_numbers()
        for region in COUNTRY_CODE_TO_REGION_CODE[code]
        if region in phonenumbers.SUPPORTED_REGIONS
    ]
    return international + dialled


def check_in_this_process() -> None:
    """Parse everything cold, warm up, then parse it all again with `re.compile` refused."""
    examples = every_example()
    expected = [parse_phone(digits, country) for digits, country in examples]
    warm_phonenumbers()

    def compile_refused(pattern: object, flags: object = 0) -> re.Pattern[str]:
        raise AssertionError(f"compiled after the warm-up: {pattern!r}")

    re.compile = compile_refused  # type: ignore[assignment]  # a fresh process of its own
    got = [parse_phone(digits, country) for digits, country in examples]
    assert got == expected
    valid = sum(parsed.e164 is not None for parsed in got)
    assert valid > 5000, valid  # the validating paths (types, regions) ran, not only errors
    print(f"{len(got)} numbers, {valid} valid, no pattern compiled")


def test_after_the_warm_up_no_number_compiles_a_pattern() -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"from {MODULE} import check_in_this_process as c; c()"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no pattern compiled" in done.stdout
