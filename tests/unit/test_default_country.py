"""`defaultCountry`: numbers written without `+` are read as dialled in that country, exactly as
phonenumbers reads them; numbers with `+` are unaffected."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from transforms import RowErrorCode, contacts_frame, normalize_contacts
from transforms.phones import SUPPORTED_COUNTRIES, check_phones


def _results(phones: list[str], country: str | None) -> list[tuple[str | None, str | None]]:
    result = normalize_contacts(
        contacts_frame([{"name": "P", "phoneNumber": phone} for phone in phones]), country
    )
    valid = dict(result.valid.select("row_index", "phone_number").iter_rows())
    errors = dict(result.errors.select("row_index", "code").iter_rows())
    return [(valid.get(i), errors.get(i)) for i in range(len(phones))]


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("098765 43210", "IN", "+919876543210"),  # national prefix 0
        ("98765 43210", "IN", "+919876543210"),
        ("91 98765 43210", "IN", "+919876543210"),  # the calling code without +
        ("0091 98765 43210", "IN", "+919876543210"),  # India's international prefix
        ("(212) 555-0100", "US", "+12125550100"),
        ("1-212-555-0100", "US", "+12125550100"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 901820", "DE", "+4930901820"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_national_forms_become_e164(raw: str, country: str, e164: str) -> None:
    assert _results([raw], country) == [(e164, None)]


def test_without_a_default_country_they_stay_missing_plus() -> None:
    assert _results(["098765 43210"], None) == [(None, RowErrorCode.MISSING_PLUS)]


def test_numbers_with_a_plus_ignore_the_default_country() -> None:
    phones = ["+44 20 7946 0958", "+1 415 555 2671", "+91 12"]
    assert _results(phones, "IN") == _results(phones, None)
    assert _results(phones, "IN")[2] == (None, RowErrorCode.TOO_SHORT)


def test_a_national_number_invalid_for_the_country_says_why() -> None:
    assert _results(["12", "0123", "098765 432101234567"], "IN") == [
        (None, RowErrorCode.TOO_SHORT),
        (None, RowErrorCode.TOO_SHORT),
        (None, RowErrorCode.TOO_LONG),
    ]


def _phonenumbers_reading(national: str, country: str) -> str | None:
    """The reference: phonenumbers' own parse of the string as written, for the country."""
    number = phonenumbers.parse(national, country)
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def test_every_countrys_example_numbers_in_national_format_agree_with_phonenumbers() -> None:
    """Every supported country's example mobile, fixed-line and VoIP number written nationally
    gives phonenumbers' own reading of it for that country, and that is the example's E.164."""
    checked = 0
    for country in sorted(SUPPORTED_COUNTRIES):
        examples = [
            phonenumbers.example_number_for_type(country, kind)
            for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP)
        ]
        numbers = [example for example in examples if example is not None]
        written = [phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL) for n in numbers]
        results = check_phones(pl.Series(written), country)
        for number, national, value, code in zip(
            numbers, written, results["value"], results["code"], strict=True
        ):
            reference = _phonenumbers_reading(national, country)
            assert (value, code is None) == (reference, reference is not None), (country, national)
            assert value == phonenumbers.format_number(number, PhoneNumberFormat.E164)
            checked += 1
    assert checked > 500
