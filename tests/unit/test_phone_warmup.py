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
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from transforms.phones import parse_phone, warm_phonenumbers

REPO = Path(__file__).resolve().parents[2]
MODULE = "tests.unit.test_phone_warmup"  # as the fresh interpreter imports it, from REPO


def every_example() -> list[tuple[str, str | None]]:
    """(digits, country) for every region's example of every type, international and as dialled
    in the region, each also with a digit more and one less (often invalid: the length checks
    and the type patterns run differently); and each non-geographic entity's example."""
    found: list[tuple[str, str | None]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append((phonenumbers.format_number(example, PhoneNumberFormat.E164), None))
                found.append((phonenumbers.national_significant_number(example), region))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.append((phonenumbers.format_number(example, PhoneNumberFormat.E164), None))
    return found + [(d + "1", c) for d, c in found] + [(d[:-1], c) for d, c in found]


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
    assert valid > 2000, valid  # the validating paths (types, regions) ran, not only errors
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
