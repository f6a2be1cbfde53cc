"""`check_phones` (vectorized where exact) decides every key as `parse_phone` does, key by key:
its E.164 or error code, and a valid number's type and region.

The corpus (tests/phone_corpus.py) covers every region's and non-geographic entity's example
numbers of every type, their neighbours, national-prefix variants, random digits after every
calling code, unknown codes, too short and too long keys; bench/phones.py checks 1,000,000.
"""

from __future__ import annotations

import polars as pl
import pytest

import transforms.phones
from tests.phone_corpus import corpus, realistic
from transforms.phones import PHONE_TYPES, ParsedPhone, check_phones, decide_phones, parse_phone

# E.164, error code, type, region.
Outcome = tuple[str | None, str | None, str | None, str | None]


def _expected(keys: list[str]) -> list[Outcome]:
    """phonenumbers' own answers, key by key (`parse_phone` calls `number_type` and
    `region_code_for_number` on each valid number)."""
    return [
        (parsed.e164, parsed.code and str(parsed.code), parsed.phone_type, parsed.phone_region)
        for parsed in map(parse_phone, keys)
    ]


def _outcomes(frame: pl.DataFrame, e164: str, code: str) -> list[Outcome]:
    return list(frame.select(e164, code, "phone_type", "phone_region").iter_rows())


def _disagreements(keys: list[str], got: list[Outcome]) -> list[tuple[str, Outcome, Outcome]]:
    return [
        (key, outcome, expected)
        for key, outcome, expected in zip(keys, got, _expected(keys), strict=True)
        if outcome != expected
    ]


def test_check_phones_equals_parse_phone_on_the_corpus() -> None:
    keys = corpus(60_000, seed=1)
    checked = check_phones(pl.Series(keys))
    wrong = _disagreements(keys, _outcomes(checked, "value", "code"))
    assert not wrong, f"{len(wrong)} keys disagree (key, got, parse_phone): {wrong[:10]}"
    # Every type and non-geographic numbers were compared, in the vectorized path's share too.
    decided = decide_phones(pl.Series(keys)).filter(pl.col("e164").is_not_null())
    assert set(decided["phone_type"]) >= set(PHONE_TYPES.values()) - {"unknown"}
    assert "001" in set(decided["phone_region"])


def test_decide_phones_equals_parse_phone_where_it_decides() -> None:
    keys = realistic(10_000, seed=3)
    decided = decide_phones(pl.Series(keys))
    wrong = _disagreements(decided["key"].to_list(), _outcomes(decided, "e164", "parse_code"))
    assert not wrong, f"{len(wrong)} keys disagree (key, got, parse_phone): {wrong[:10]}"


def test_decide_phones_decides_nearly_every_valid_number() -> None:
    keys = realistic(5_000, seed=5)
    valid = [key for key, (e164, *_) in zip(keys, _expected(keys), strict=True) if e164]
    decided = decide_phones(pl.Series(keys)).filter(pl.col("e164").is_not_null())
    assert len(valid) > 0.8 * len(keys)
    assert decided.height > 0.99 * len(valid), (decided.height, len(valid))


@pytest.mark.parametrize(
    ("key", "e164"),
    [
        ("+4402079460958", "+442079460958"),  # the national prefix 0 after the code is dropped
        ("+789123456789", "+79123456789"),  # Russia's 8 is dropped...
        ("+78123456789", "+78123456789"),  # ...unless the number is viable and the rest is not
        ("+4418002012345", None),  # 180020 is stripped only if what is left is possible
    ],
)
def test_plain_national_prefixes_are_stripped_by_the_fast_path(key: str, e164: str | None) -> None:
    decided = decide_phones(pl.Series([key]))
    assert decided["key"].to_list() == [key]
    assert decided["e164"].to_list() == [e164]
    assert _outcomes(decided, "e164", "parse_code") == _expected([key])


@pytest.mark.parametrize(
    ("key", "e164"),
    [
        ("+5401123456789", "+541123456789"),  # Argentina's 0 goes through a transform rule
        ("+5501123456789", "+551123456789"),  # so does Brazil's (it may hold a carrier code)
        ("+378886377", "+3780549886377"),  # San Marino: a local number gets 0549
        ("+810312345678", "+81312345678"),  # Japan
    ],
)
def test_transform_rules_are_left_to_parse_phone(key: str, e164: str) -> None:
    assert decide_phones(pl.Series([key])).is_empty()
    keys = [key, *realistic(200, seed=9)]
    assert check_phones(pl.Series(keys))["value"][0] == e164 == parse_phone(key)[0]


def test_check_phones_calls_parse_phone_only_for_what_the_fast_path_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = corpus(20_000, seed=2)
    left = set(keys) - set(decide_phones(pl.Series(keys))["key"])
    calls: list[str] = []

    def counting_parse(digits: str, country: str | None = None) -> ParsedPhone:
        calls.append(digits)
        return parse_phone(digits, country)

    monkeypatch.setattr(transforms.phones, "parse_phone", counting_parse)
    check_phones(pl.Series(keys))
    assert left, "the corpus's transform-rule prefixes should reach parse_phone"
    assert sorted(calls) == sorted(left)
    assert len(calls) < 0.01 * len(keys)
