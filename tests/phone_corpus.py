"""Seeded `+digits` keys to check the vectorized phone path against `parse_phone`, key by key.

`corpus(size)`: every region's and non-geographic entity's example number of every type, their
neighbours (last digits changed, a digit added or removed), national-prefix variants (the prefix,
carrier codes or a local number after the calling code), random digits after every calling code
at every length, unknown codes, too short and too long keys. `realistic(count)`: mostly valid
numbers of many countries, as contacts hold them. Used by tests/unit/test_phone_exactness.py and
bench/phones.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

CALLING_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
_KNOWN = {str(code) for code in CALLING_CODES}
# Prefixes that start no known calling code, so a key starting with one has none.
_UNKNOWN_CODES = [
    prefix
    for prefix in (f"{number}" for number in range(1000))
    if not any(prefix[:size] in _KNOWN for size in (1, 2, 3))
]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def example_numbers() -> list[tuple[int, str]]:
    """(calling code, national number) of every example number phonenumbers has, every type."""
    numbers: list[tuple[int, str]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code is not None:
                national = phonenumbers.national_significant_number(example)
                numbers.append((example.country_code, national))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.append((code, phonenumbers.national_significant_number(example)))
        metadata = PhoneMetadata.metadata_for_nongeo_region(code)
        assert metadata is not None
        for name in ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip"):
            desc = getattr(metadata, name)
            if desc is not None and desc.example_number:
                numbers.append((code, desc.example_number))
    return list(dict.fromkeys(numbers))


def neighbours(code: int, national: str, rng: random.Random) -> Iterator[str]:
    """Numbers next to a valid one: last digits changed, a digit added or removed."""
    head = f"+{code}"
    for digit in "0123456789":
        yield head + national[:-1] + digit
    for size in (2, 3, 4):
        yield head + national[:-size] + _digits(rng, size)
    at = rng.randrange(len(national) + 1)
    yield head + national + rng.choice("0123456789")
    yield head + national[:at] + rng.choice("0123456789") + national[at:]
    yield head + national[:-1]
    at = rng.randrange(len(national))
    yield head + national[:at] + national[at + 1 :]


def prefix_variants(code: int, national: str, rng: random.Random) -> Iterator[str]:
    """A national prefix, carrier code or local-only number written after the calling code."""
    head = f"+{code}"
    for region in COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is not None and metadata.national_prefix:
            yield head + metadata.national_prefix + national
    for prefix in ("0", "1", "8", "9", "00", "01", "15", "90", "0" + _digits(rng, 2)):
        yield head + prefix + national
    for size in (5, 6, 7, 8):
        yield head + national[-size:]


def _random_after_code(rng: random.Random) -> str:
    return f"+{rng.choice(CALLING_CODES)}{_digits(rng, rng.randint(1, 17))}"


def _odd(rng: random.Random) -> str:
    """A key phonenumbers refuses early: unknown code, too few or too many digits."""
    kind = rng.randrange(5)
    if kind == 0:
        return "+" + rng.choice(_UNKNOWN_CODES) + _digits(rng, rng.randint(0, 14))
    if kind == 1:
        return "+0" + _digits(rng, rng.randint(0, 14))
    if kind == 2:
        return "+" + _digits(rng, rng.randint(1, 4))
    if kind == 3:
        return f"+{rng.choice(CALLING_CODES)}{_digits(rng, rng.randint(18, 30))}"
    return "+" + _digits(rng, rng.randint(240, 260))


def _mutated(examples: list[tuple[int, str]], rng: random.Random) -> str:
    """An example number with some of its last digits drawn again: often valid, often not."""
    code, national = rng.choice(examples)
    size = rng.randint(1, min(6, len(national)))
    return f"+{code}{national[:-size]}{_digits(rng, size)}"


def _base(rng: random.Random) -> Iterator[str]:
    """Every case once: examples, their neighbours and variants, every code at every length."""
    examples = example_numbers()
    for code, national in examples:
        yield f"+{code}{national}"
        yield from neighbours(code, national, rng)
        yield from prefix_variants(code, national, rng)
    for code in CALLING_CODES:
        for length in range(1, 18):
            yield f"+{code}{_digits(rng, length)}"
    for _ in range(2000):
        yield _odd(rng)


def corpus(size: int, seed: int = 0) -> list[str]:
    """`size` distinct keys: the base cases (sampled if more), then random draws."""
    rng = random.Random(seed)
    keys = list(dict.fromkeys(_base(rng)))
    if len(keys) >= size:
        return rng.sample(keys, size)
    examples = example_numbers()
    seen = set(keys)
    while len(keys) < size:
        draw = rng.random()
        if draw < 0.5:
            key = _mutated(examples, rng)
        elif draw < 0.9:
            key = _random_after_code(rng)
        elif draw < 0.97:
            key = rng.choice(list(neighbours(*rng.choice(examples), rng)))
        else:
            key = _odd(rng)
        if key not in seen:
            seen.add(key)
            keys.append(key)
    return keys


# The countries of bench/transforms.py's contacts.
FEW_REGIONS = ("IN", "GB", "US", "DE", "FR", "JP", "BR", "AU", "NG", "AE", "CN", "MX")


def realistic(count: int, seed: int = 7, regions: tuple[str, ...] | None = None) -> list[str]:
    """`count` distinct keys of `regions` (default: all), ~90% valid: example mobile and
    fixed-line numbers with their last four digits drawn again, and some too short, too long or
    of no country."""
    rng = random.Random(seed)
    templates = []
    for region in regions or sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind, weight in ((PhoneNumberType.MOBILE, 3), (PhoneNumberType.FIXED_LINE, 1)):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                national = phonenumbers.national_significant_number(example)
                templates += [(example.country_code, national)] * weight
    keys: dict[str, None] = {}
    while len(keys) < count:
        code, national = rng.choice(templates)
        key = f"+{code}{national[:-4]}{_digits(rng, 4)}"
        draw = rng.random()
        if draw < 0.03:
            key = key[:6]
        elif draw < 0.06:
            key += _digits(rng, 5)
        elif draw < 0.08:
            key = "+999" + key[4:]
        keys[key] = None
    return list(keys)
