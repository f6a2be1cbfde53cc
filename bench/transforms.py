"""Time the transforms against a plain-Python loop applying the same rules row by row.

Run: `python bench/transforms.py`. Seeded, so every run sees the same messy contacts.
"""

import random
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path and this file would shadow the package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import polars as pl  # noqa: E402

from transforms import contacts_frame, normalize_contacts, plan_upsert  # noqa: E402
from transforms.json_text import to_json  # noqa: E402
from transforms.languages import LANGUAGE_TAG  # noqa: E402
from transforms.names import MAX_NAME_CHARS  # noqa: E402
from transforms.phones import PHONE_SHAPE, parse_phone  # noqa: E402
from transforms.schema import EXISTING_SCHEMA  # noqa: E402

SIZES = (10_000, 100_000)
REPEATS = 3

# Country code and a valid national number to vary the last four digits of.
_NUMBERS = [
    ("91", "98765" + "43210"),
    ("44", "7911" + "123456"),
    ("1", "415555" + "2671"),
    ("49", "1512" + "3456789"),
    ("33", "6" + "12345678"),
    ("81", "90" + "12345678"),
    ("55", "11" + "912345678"),
    ("61", "4" + "12345678"),
    ("234", "803" + "1234567"),
    ("971", "50" + "1234567"),
    ("86", "138" + "00138000"),
    ("52", "55" + "12345678"),
]
_FIRST = ["Priya", "Ravi", "José", "Zoë", "Ngozi", "山田", "Émile", "Aarav", "Chloé", "Mohammed"]
_LAST = ["Sharma", "Kumar", "García", "Müller", "Okafor", "太郎", "Dubois", "Silva", "Smith"]
_LANGUAGES = ["hi-IN", "HI-in", "en", "en-gb", "pt-BR", "zh-hant-tw", "ja", "fr-FR", "ar-AE", "de"]
_INVALID = [
    "phone_no_plus",
    "phone_letters",
    "phone_short",
    "phone_long",
    "phone_country",
    "phone_number_type",
    "phone_missing",
    "name_empty",
    "name_type",
    "name_long",
    "language_tag",
]


def _written(country: str, national: str, rng: random.Random) -> str:
    """One of the ways people write a number: E.164, grouped by spaces, dashes, dots or ()."""
    a, b, c = national[:3], national[3:6], national[6:]
    return rng.choice(
        [
            f"+{country}{national}",
            f"+{country} {a} {b} {c}",
            f"+{country}-{a}-{b}-{c}",
            f"+{country}.{a}.{b}.{c}",
            f" +{country} ({a}) {b}-{c} ",
        ]
    )


def messy_contacts(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """~10% invalid rows of several kinds; ~5% repeat an earlier number, mostly written anew."""
    rng = random.Random(seed)
    numbers: list[tuple[str, str]] = []
    contacts: list[dict[str, Any]] = []
    for index in range(count):
        if numbers and rng.random() < 0.05:
            country, national = rng.choice(numbers)
        else:
            country, base = rng.choice(_NUMBERS)
            national = base[:-5] + f"{rng.randrange(100_000):05d}"
            numbers.append((country, national))
        contact: dict[str, Any] = {
            "name": f"  {rng.choice(_FIRST)}\u00a0 {rng.choice(_LAST)}\t",
            "phoneNumber": _written(country, national, rng),
            "language": rng.choice(_LANGUAGES),
            "city": rng.choice(["Mumbai", "London", "Lagos", "Tokyo"]),
            "tier": rng.choice(["gold", "standard"]),
            "profile": {"source": "crm", "score": index % 97, "tags": ["a", "b"]},
        }
        if rng.random() < 0.2:
            del contact["language"]
        if rng.random() < 0.10:
            _break(contact, rng.choice(_INVALID))
        contacts.append(contact)
    return contacts


def _break(contact: dict[str, Any], kind: str) -> None:
    phone = contact["phoneNumber"].strip()
    changes: dict[str, Any] = {
        "phone_no_plus": {"phoneNumber": phone.lstrip("+")},
        "phone_letters": {"phoneNumber": phone + " ext 12"},
        "phone_short": {"phoneNumber": phone[:6]},
        "phone_long": {"phoneNumber": phone + "123456"},
        "phone_country": {"phoneNumber": "+999 " + phone[4:]},
        "phone_number_type": {"phoneNumber": 919876543210},
        "phone_missing": {"phoneNumber": None},
        "name_empty": {"name": " \t "},
        "name_type": {"name": ["Priya"]},
        "name_long": {"name": "x" * 300},
        "language_tag": {"language": "English (US)"},
    }
    contact.update(changes[kind])


_WIRE = ("name", "phoneNumber", "language")
_PHONE = re.compile(PHONE_SHAPE)
_LANGUAGE = re.compile(LANGUAGE_TAG)
_TAG_ALPHABET = re.compile(r"[A-Za-z0-9-]+")


def _baseline_language(tag: str) -> str:
    subtags = tag.lower().split("-")
    cased = subtags[:1]
    lowercase_only = len(subtags[0]) == 1  # x-… and i-… tags
    for subtag in subtags[1:]:
        lowercase_only = lowercase_only or len(subtag) == 1
        if not lowercase_only and len(subtag) == 2:
            subtag = subtag.upper()
        elif not lowercase_only and len(subtag) == 4:
            subtag = subtag.title()
        cased.append(subtag)
    return "-".join(cased)


def baseline(contacts: list[dict[str, Any]]) -> dict[str, int]:
    """The same rules, one row at a time, phonenumbers called for every row."""
    errors = failed = 0
    plan: dict[str, dict[str, Any]] = {}
    valid = 0
    for contact in contacts:
        row_errors = 0
        name = contact.get("name")
        if not isinstance(name, str):
            row_errors += 1
        else:
            name = unicodedata.normalize("NFC", " ".join(name.split()))
            row_errors += not name or len(name) > MAX_NAME_CHARS
        phone = contact.get("phoneNumber")
        e164 = None
        if not isinstance(phone, str):
            row_errors += 1
        else:
            phone = phone.strip()
            if phone.startswith("+") and _PHONE.match(phone):
                e164 = parse_phone("+" + re.sub("[^0-9]", "", phone)).e164
            row_errors += e164 is None
        language = contact.get("language")
        if isinstance(language, str):
            language = language.strip()
            if not language:
                language = None
            elif _TAG_ALPHABET.fullmatch(language) and _LANGUAGE.match(language.lower()):
                language = _baseline_language(language)
            else:
                row_errors += 1
        elif language is not None:
            row_errors += 1
        errors += row_errors
        if row_errors:
            failed += 1
            continue
        valid += 1
        metadata = {key: value for key, value in contact.items() if key not in _WIRE}
        assert isinstance(e164, str)
        current = plan.setdefault(e164, {"language": None, "metadata": {}})
        current["name"] = name
        current["language"] = language or current["language"]
        current["metadata"].update(metadata)
    for current in plan.values():
        current["metadata"] = to_json(current["metadata"])
    created = len(plan)
    return {
        "valid": valid,
        "errors": errors,
        "failed": failed,
        "created": created,
        "updated": valid - created,
    }


def vectorized(contacts: list[dict[str, Any]]) -> dict[str, int]:
    normalized = normalize_contacts(contacts_frame(contacts))
    plan = plan_upsert(normalized.valid, pl.DataFrame(schema=EXISTING_SCHEMA), "imp_bench")
    return {
        "valid": normalized.valid.height,
        "errors": normalized.errors.height,
        "failed": normalized.failed,
        "created": plan.created,
        "updated": plan.updated,
    }


def _median_seconds(
    run: Callable[[list[dict[str, Any]]], dict[str, int]], contacts: list[dict[str, Any]]
) -> tuple[float, dict[str, int]]:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        counts = run(contacts)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), counts


def _distinct_parse_seconds(contacts: list[dict[str, Any]]) -> tuple[int, float]:
    """How many numbers the transforms hand to phonenumbers, and how long those calls take."""
    keys = {
        "+" + re.sub("[^0-9]", "", phone)
        for contact in contacts
        if isinstance(phone := contact.get("phoneNumber"), str)
        and (phone := phone.strip()).startswith("+")
        and _PHONE.match(phone)
    }
    started = time.perf_counter()
    for key in keys:
        parse_phone(key)
    return len(keys), time.perf_counter() - started


def main() -> None:
    print(f"polars {pl.__version__}, median of {REPEATS} runs")
    print(f"{'rows':>8} {'implementation':<15} {'median s':>9} {'rows/s':>10} {'speed-up':>9}")
    for size in SIZES:
        contacts = messy_contacts(size)
        fast, fast_counts = _median_seconds(vectorized, contacts)
        slow, slow_counts = _median_seconds(baseline, contacts)
        assert fast_counts == slow_counts, (fast_counts, slow_counts)
        print(
            f"{size:>8} {'transforms':<15} {fast:>9.3f} {size / fast:>10,.0f} {slow / fast:>8.1f}x"
        )
        print(f"{size:>8} {'python loop':<15} {slow:>9.3f} {size / slow:>10,.0f} {1:>8.1f}x")
        numbers, parsing = _distinct_parse_seconds(contacts)
        print(
            f"{'':>8} phonenumbers on {numbers:,} distinct numbers: {parsing:.3f} s"
            f" ({parsing / fast:.0%} of transforms); counts {fast_counts}"
        )


if __name__ == "__main__":
    main()
