import pytest

from transforms import RowErrorCode, contacts_frame, normalize_contacts
from transforms.phones import ParsedPhone


def _phone_result(phone: str) -> tuple[str | None, str | None]:
    result = normalize_contacts(contacts_frame([{"name": "Priya", "phoneNumber": phone}]))
    if result.errors.height:
        return None, result.errors["code"][0]
    return result.valid["phone_number"][0], None


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+919876543210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("+91-98765-43210", "+919876543210"),
        ("  +91 98765 43210\t", "+919876543210"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+1.415.555.2671", "+14155552671"),
        ("+1 415\u2013555\u20132671", "+14155552671"),  # en dashes
        ("+49 30 901820", "+4930901820"),
        ("+49 (0)30 901820", "+4930901820"),
        ("+49 1512 3456789", "+4915123456789"),
        ("+33\u202f6\u202f12\u202f34\u202f56\u202f78", "+33612345678"),  # narrow no-break spaces
        ("+33 1 42 68 53 00", "+33142685300"),
        ("+81 3-1234-5678", "+81312345678"),
        ("+81 90.1234.5678", "+819012345678"),
        ("+55 (11) 91234-5678", "+5511912345678"),
        ("+61 412 345 678", "+61412345678"),
        ("+234 803 123 4567", "+2348031234567"),
        ("+971 50 123 4567", "+971501234567"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+7 912 345-67-89", "+79123456789"),
        ("+(44) 20 7946 0958", "+442079460958"),
    ],
)
def test_formatted_numbers_become_e164(raw: str, e164: str) -> None:
    assert _phone_result(raw) == (e164, None)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", RowErrorCode.EMPTY),
        ("  ", RowErrorCode.EMPTY),
        ("919876543210", RowErrorCode.MISSING_PLUS),
        ("0091 98765 43210", RowErrorCode.MISSING_PLUS),
        ("(415) 555-2671", RowErrorCode.MISSING_PLUS),
        ("+", RowErrorCode.INVALID_FORMAT),
        ("+1 415 555 2671 ext 12", RowErrorCode.INVALID_FORMAT),
        ("+1 415 555 2671 x12", RowErrorCode.INVALID_FORMAT),
        ("+1-800-FLOWERS", RowErrorCode.INVALID_FORMAT),
        ("+91 98765 43210 / +91 98765 43211", RowErrorCode.INVALID_FORMAT),
        ("+91_98765_43210", RowErrorCode.INVALID_FORMAT),
        ("++919876543210", RowErrorCode.INVALID_FORMAT),
        ("+٩١٩٨٧٦٥٤٣٢١٠", RowErrorCode.INVALID_FORMAT),  # only ASCII digits
        ("+1 415 555 2671)", RowErrorCode.INVALID_FORMAT),
        ("tel:+14155552671", RowErrorCode.INVALID_FORMAT),
        ("+999 1234 5678", RowErrorCode.INVALID_COUNTRY_CODE),
        ("+0 1234 5678", RowErrorCode.INVALID_COUNTRY_CODE),
        ("+1", RowErrorCode.TOO_SHORT),
        ("+1 415", RowErrorCode.TOO_SHORT),
        ("+91 98765", RowErrorCode.TOO_SHORT),
        ("+44 1", RowErrorCode.TOO_SHORT),
        ("+49 30 1", RowErrorCode.TOO_SHORT),  # a local number without its area code
        ("+1 415 555 26710", RowErrorCode.TOO_LONG),
        ("+91 98765 432101234567", RowErrorCode.TOO_LONG),
        ("+" + "1" * 300, RowErrorCode.TOO_LONG),
        ("+1 999 555 0100", RowErrorCode.INVALID_NUMBER),  # no area code 999
        ("+971 4 123 4567", RowErrorCode.INVALID_NUMBER),
        ("+61 2 1234 5678 11", RowErrorCode.INVALID_NUMBER),  # a length Australia never uses
    ],
)
def test_bad_numbers_get_distinct_codes(raw: str, code: RowErrorCode) -> None:
    assert _phone_result(raw) == (None, code)


def test_each_distinct_number_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import transforms.phones

    calls: list[str] = []
    parse = transforms.phones.parse_phone

    def counting_parse(digits: str, country: str | None = None) -> ParsedPhone:
        calls.append(digits)
        return parse(digits, country)

    monkeypatch.setattr(transforms.phones, "parse_phone", counting_parse)
    phones = ["+91 98765 43210", "+91-98765-43210", "+919876543210", "+91 98765 43210"]
    result = normalize_contacts(
        contacts_frame([{"name": "P", "phoneNumber": phone} for phone in phones])
    )
    assert result.valid["phone_number"].to_list() == ["+919876543210"] * 4
    assert calls == ["+919876543210"]
