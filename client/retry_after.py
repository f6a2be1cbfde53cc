"""The `Retry-After` header, read once for the client's retries and the webhook deliveries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# RFC 9110's delay-seconds is 1*DIGIT; a leading minus is read too, and clamped to 0.
_SECONDS = re.compile(r"-?[0-9]+")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait: from delay-seconds or an HTTP date (past dates and negative numbers
    give 0). None when the header is absent or unreadable (a fraction, a word, a bad date)."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return max(0.0, float(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are UTC anyway
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
