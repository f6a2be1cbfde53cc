"""`Retry-After`, as both the client's retries and the webhook deliveries read it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from client.retry_after import parse_retry_after

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("-3", 0.0),  # negative: no wait
        ("Tue, 10 Mar 2026 12:00:30 GMT", 30.0),
        ("Tue, 10 Mar 2026 12:00:30 -0000", 30.0),  # parses naive: read as UTC
        ("Tue, 10 Mar 2026 13:00:30 +0100", 30.0),
        ("Tue, 10 Mar 2026 11:59:00 GMT", 0.0),  # in the past: no wait
        ("", None),
        ("soon", None),
        ("1.5", None),  # delay-seconds is whole digits only
        ("inf", None),
        ("nan", None),
        ("1_000", None),
        ("+5", None),
        ("\u00b2", None),  # a Unicode digit that float() refuses
        ("Mon, 99 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_dates_are_relative_to_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    later = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT")
    assert later is not None
    assert later > 1e10
