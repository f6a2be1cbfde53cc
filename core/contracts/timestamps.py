"""Timestamps as the API reference writes them, `2026-03-10T10:05:00.000Z` (UTC, milliseconds,
`Z`): in every API response and in the webhook payload.

msgspec writes a plain `datetime` its own way (microseconds, and no fraction at all when it is
zero) and offers no option to change it; a `datetime` subclass, though, it hands to the encoder's
hook. So the wire shapes declare `Timestamp`, a `datetime` that code reads like any other, and
mypy rejects a plain `datetime` where one would leave the API; `Timestamp.wire` is the one place
the form is written, used by the API's serializer (Litestar's `type_encoders`) and by the webhook
payload's encoder (`enc_hook`); the Python client decodes with `dec_hook`. Plain Python and
msgspec: the client imports this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

EXAMPLE = "2026-03-10T10:05:00.000Z"


class Timestamp(datetime):
    """A UTC instant to the millisecond, as the API writes it."""

    @classmethod
    def of(cls, value: datetime) -> Timestamp:
        """`value` in UTC, cut to the millisecond (what the wire keeps). Naive values are refused:
        which zone they meant is unknown."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"a timestamp needs a time zone: {value!r}")
        utc = value.astimezone(UTC)
        return cls(
            utc.year,
            utc.month,
            utc.day,
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond // 1000 * 1000,
            tzinfo=UTC,
        )

    def wire(self) -> str:
        return self.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timestamp(value: datetime | None) -> Timestamp | None:
    return None if value is None else Timestamp.of(value)


def enc_hook(value: Any) -> Any:
    """msgspec's `enc_hook`: writes a `Timestamp` in the one wire form."""
    if isinstance(value, Timestamp):
        return value.wire()
    raise NotImplementedError(f"objects of type {type(value).__name__} cannot be encoded")


def dec_hook(kind: type, value: Any) -> Any:
    """msgspec's `dec_hook`: reads a `Timestamp` from any RFC 3339 string (older servers wrote
    microseconds)."""
    if kind is Timestamp and isinstance(value, str):
        return Timestamp.of(msgspec.convert(value, datetime))
    raise NotImplementedError(f"cannot decode {kind!r} from {type(value).__name__}")
