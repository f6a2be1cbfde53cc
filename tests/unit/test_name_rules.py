import pytest

from transforms import RowErrorCode, contacts_frame, normalize_contacts


def _name_result(name: str) -> tuple[str | None, str | None]:
    result = normalize_contacts(contacts_frame([{"name": name, "phoneNumber": "+919876543210"}]))
    if result.errors.height:
        return None, result.errors["code"][0]
    return result.valid["name"][0], None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Priya Sharma", "Priya Sharma"),
        ("  Priya   Sharma  ", "Priya Sharma"),
        ("Priya\tSharma\n", "Priya Sharma"),
        ("Priya\r\n\r\nSharma", "Priya Sharma"),
        ("Priya\u00a0Sharma", "Priya Sharma"),  # no-break space
        ("\u3000山田\u3000\u3000太郎\u3000", "山田 太郎"),  # ideographic space
        ("Jos\u2009María", "Jos María"),  # thin space
        ("प्रिया शर्मा", "प्रिया शर्मा"),
        ("محمد علي", "محمد علي"),
        ("Zoe\u0308", "Zoë"),  # decomposed diaeresis → composed
        ("A\u030angstr\u00f6m", "Ångström"),
        ("\u212b", "Å"),  # angstrom sign, canonically Å
        ("O'Brien-Smith 🎉", "O'Brien-Smith 🎉"),
        ("x" * 256, "x" * 256),
        (" " + "x" * 256 + "\t", "x" * 256),
        ("e\u0301" * 256, "é" * 256),  # 512 code points in, 256 after NFC
        # Invisible format characters are trimmed at the edges like whitespace...
        ("\ufeffPriya Sharma\u200b", "Priya Sharma"),
        ("\u2060 \u200e Priya \u00ad", "Priya"),
        # ...and kept inside, where ZWJ/ZWNJ shape scripts and emoji.
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),
        ("Ann\u200cLee", "Ann\u200cLee"),
        # Bidi embeddings, overrides and isolates go everywhere (spoofed display order).
        ("Priya\u202e lanigiro\u202c", "Priya lanigiro"),
        ("\u2067محمد\u2069 Ali", "محمد Ali"),
    ],
)
def test_names_are_normalized(raw: str, expected: str) -> None:
    assert _name_result(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", RowErrorCode.EMPTY),
        ("   ", RowErrorCode.EMPTY),
        ("\t\n\u00a0\u3000", RowErrorCode.EMPTY),
        ("\u200b", RowErrorCode.EMPTY),  # zero width space
        ("\ufeff\u200b\u2060 \u200d", RowErrorCode.EMPTY),  # BOM, ZWSP, word joiner, ZWJ
        ("\u202e\u202c", RowErrorCode.EMPTY),  # only bidi controls
        ("x" * 257, RowErrorCode.TOO_LONG),
        ("é" * 257, RowErrorCode.TOO_LONG),
        ("a " * 128 + "b", RowErrorCode.TOO_LONG),
    ],
)
def test_bad_names_are_errors(raw: str, code: RowErrorCode) -> None:
    assert _name_result(raw) == (None, code)


def test_too_long_message_gives_the_length() -> None:
    result = normalize_contacts(
        contacts_frame([{"name": "x" * 300, "phoneNumber": "+14155552671"}])
    )
    assert "300 characters" in result.errors["message"][0]
