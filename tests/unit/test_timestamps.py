"""One timestamp form wherever one leaves the service (`core.contracts.timestamps`): UTC,
milliseconds, `Z`, as the API reference writes `2026-03-10T10:05:00.000Z`; and the Python client
reads it (and the microsecond form older servers wrote) back."""

from __future__ import annotations

import inspect
import typing
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

import api.schemas
import client.schemas
from client.schemas import ImportStatusView, ImportSummary, dec_hook
from core.contracts.status import ImportOutcome, ImportStatus
from core.contracts.status_view import StatusFields, status_fields
from core.contracts.timestamps import Timestamp, enc_hook, timestamp

ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)


def wire(value: datetime) -> str:
    return str(msgspec.json.decode(ENCODER.encode(Timestamp.of(value))))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (datetime(2026, 3, 10, 10, 5, tzinfo=UTC), "2026-03-10T10:05:00.000Z"),
        (datetime(2026, 3, 10, 10, 5, 0, 120_000, tzinfo=UTC), "2026-03-10T10:05:00.120Z"),
        # Cut, not rounded: a completedAt never moves past the run's real end.
        (datetime(2026, 3, 10, 10, 5, 0, 999_999, tzinfo=UTC), "2026-03-10T10:05:00.999Z"),
        (
            datetime(
                2026, 3, 10, 15, 35, 0, 7_000, tzinfo=timezone(timedelta(hours=5, minutes=30))
            ),
            "2026-03-10T10:05:00.007Z",
        ),
    ],
)
def test_written_in_utc_to_the_millisecond(value: datetime, written: str) -> None:
    assert wire(value) == written
    assert Timestamp.of(value).wire() == written


def test_plain_datetimes_are_what_msgspec_writes_differently() -> None:
    # Why the type exists: msgspec's own form has microseconds, or no fraction at all.
    assert (
        msgspec.json.encode(datetime(2026, 3, 10, 10, 5, tzinfo=UTC)) == b'"2026-03-10T10:05:00Z"'
    )
    assert ENCODER.encode(Timestamp.of(datetime(2026, 3, 10, 10, 5, tzinfo=UTC))) == (
        b'"2026-03-10T10:05:00.000Z"'
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Timestamp.of(datetime(2026, 3, 10, 10, 5))
    assert timestamp(None) is None


@pytest.mark.parametrize(
    "written",
    [
        "2026-03-10T10:05:00.000Z",
        "2026-03-10T10:05:00.000456Z",  # what the API wrote before
        "2026-03-10T10:05:00Z",
        "2026-03-10T15:35:00.000+05:30",
    ],
)
def test_the_client_reads_what_the_server_writes(written: str) -> None:
    body = (
        '{"id":"imp_1","status":"COMPLETED","total":1,"created":1,"updated":0,"failed":0,'
        f'"errorCount":0,"skipped":0,"completedAt":"{written}","createdAt":"2026-03-10T10:04:59.250Z",'
        '"audienceId":null,"runId":"run-1"}'
    )
    item = msgspec.json.Decoder(ImportSummary, dec_hook=dec_hook).decode(body)
    assert isinstance(item.completed_at, Timestamp)
    assert item.completed_at == datetime(2026, 3, 10, 10, 5, tzinfo=UTC)
    assert item.created_at == datetime(2026, 3, 10, 10, 4, 59, 250_000, tzinfo=UTC)
    # Read and written again, the server's form is unchanged.
    again = msgspec.json.decode(ENCODER.encode(item))
    assert again["completedAt"] == "2026-03-10T10:05:00.000Z"
    assert again["createdAt"] == "2026-03-10T10:04:59.250Z"


def _wire_structs() -> list[type[msgspec.Struct]]:
    return [
        value
        for module in (client.schemas, api.schemas)
        for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, msgspec.Struct) and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize("struct", _wire_structs(), ids=lambda struct: struct.__name__)
def test_no_wire_shape_declares_a_plain_datetime(struct: type[msgspec.Struct]) -> None:
    """A plain datetime would leave the API in msgspec's form, not the reference's."""
    for name, hint in typing.get_type_hints(struct).items():
        assert "datetime.datetime" not in repr(hint), f"{struct.__name__}.{name}: {hint}"


def test_the_status_view_is_id_then_the_shared_status_fields() -> None:
    """The status endpoint and the webhook payload carry the same fields, built by one builder;
    the status view adds only `revert`, absent until a revert is requested."""
    shared = StatusFields.__struct_fields__
    assert ImportStatusView.__struct_fields__ == ("id", *shared, "revert")
    assert ImportStatusView.__struct_encode_fields__[1:-1] == StatusFields.__struct_encode_fields__
    assert StatusFields.__struct_encode_fields__ == (
        "status",
        "total",
        "created",
        "updated",
        "failed",
        "errorCount",
        "skipped",
        "completedAt",
    )


def test_completed_at_is_set_once_the_import_is_terminal() -> None:
    ended = datetime(2026, 3, 10, 10, 5, 0, 123_456, tzinfo=UTC)
    done = ImportOutcome(ImportStatus.COMPLETED, 3, created=2, updated=1, failed=0, error_count=0)
    fields = status_fields(done, ended)
    assert fields == StatusFields("COMPLETED", 3, 2, 1, 0, 0, 0, Timestamp.of(ended))
    running = ImportOutcome(
        ImportStatus.PROCESSING, 3, created=0, updated=0, failed=0, error_count=0
    )
    assert status_fields(running, ended).completed_at is None
    assert status_fields(done, None).completed_at is None
