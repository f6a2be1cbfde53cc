from typing import Any

import pytest

from transforms import RowErrorCode, contacts_frame, normalize_contacts

_ABSENT = object()


def _language_result(language: Any) -> tuple[str | None, str | None]:
    contact = {"name": "Priya", "phoneNumber": "+919876543210"}
    if language is not _ABSENT:
        contact["language"] = language
    result = normalize_contacts(contacts_frame([contact]))
    if result.errors.height:
        return None, result.errors["code"][0]
    return result.valid["language"][0], None


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("hi-IN", "hi-IN"),
        ("HI-in", "hi-IN"),
        ("en", "en"),
        ("EN", "en"),
        (" en-gb ", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("ZH-HANS", "zh-Hans"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("zh-YUE-hk", "zh-yue-HK"),  # extlang
        ("de-ch-1901", "de-CH-1901"),  # variant
        ("sl-ROZAJ-biske", "sl-rozaj-biske"),
        ("en-US-u-CA-gregory", "en-US-u-ca-gregory"),  # extension stays lowercase
        ("az-Latn-X-LATN", "az-Latn-x-latn"),  # private use stays lowercase
        ("en-ca-x-CA", "en-CA-x-ca"),
        ("X-Whatever", "x-whatever"),  # private use tag
        ("i-KLINGON", "i-klingon"),  # irregular grandfathered
        ("EN-gb-OED", "en-GB-oed"),
        ("sgn-be-fr", "sgn-BE-FR"),
        ("zh-MIN-nan", "zh-min-nan"),  # regular grandfathered
        ("tlh", "tlh"),
        # POSIX locale form, as operating systems and exports write it
        ("en_US", "en-US"),
        ("EN_us", "en-US"),
        ("zh_Hant_TW", "zh-Hant-TW"),
        (" pt_br ", "pt-BR"),
    ],
)
def test_tags_are_canonically_cased(raw: str, canonical: str) -> None:
    assert _language_result(raw) == (canonical, None)


@pytest.mark.parametrize("raw", [_ABSENT, None, "", "   "])
def test_missing_or_blank_language_is_none(raw: Any) -> None:
    assert _language_result(raw) == (None, None)


@pytest.mark.parametrize(
    "raw",
    [
        "en-",
        "en_",  # POSIX form read with hyphens is still not well-formed
        "en__US",
        "en_US.UTF-8",  # a codeset is not part of a language tag
        "sr_RS@latin",
        "-en",
        "en--US",
        "e",
        "english123",
        "abcdefghi",
        "en-US-",
        "en-a",  # extension without subtags
        "en-x",  # private use without subtags
        "en-US-x-abcdefghi",  # private subtag over 8
        "hi IN",
        "\u212aa",  # Kelvin sign lowercases to an ASCII k
        "français",
        "en-US;q=0.8",
    ],
)
def test_malformed_tags_are_errors(raw: str) -> None:
    assert _language_result(raw) == (None, RowErrorCode.INVALID_TAG)
