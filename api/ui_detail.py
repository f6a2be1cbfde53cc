"""What the Contacts UI's import page shows beyond the status: row errors grouped by what went
wrong, in plain words with what to do, filtered and paged; duplicates within the file; the
completion webhook's delivery state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from api.schemas import WebhookAttemptView, WebhookEventView
from api.uploads import file_row
from core.control_store.users import UploadRecord
from transforms.errors import RowErrorCode

ERRORS_PER_PAGE = 100

# What each (field, code) means to someone holding the file, and what to do about it.
_SENTENCES: dict[tuple[str, str], str] = {
    ("name", RowErrorCode.REQUIRED): "no name — add one",
    ("name", RowErrorCode.INVALID_TYPE): "the name is not text",
    ("name", RowErrorCode.EMPTY): "the name is empty — add one",
    ("name", RowErrorCode.TOO_LONG): "the name is longer than 256 characters — shorten it",
    ("phoneNumber", RowErrorCode.REQUIRED): "no phone number — add one",
    ("phoneNumber", RowErrorCode.INVALID_TYPE): "the phone number is not text",
    ("phoneNumber", RowErrorCode.EMPTY): "the phone number is empty — add one",
    ("phoneNumber", RowErrorCode.MISSING_PLUS): (
        "phone number without country code — set a default country or add +"
    ),
    ("phoneNumber", RowErrorCode.INVALID_FORMAT): (
        "the phone number has letters or other signs — keep digits, spaces, dashes, dots and"
        " parentheses"
    ),
    ("phoneNumber", RowErrorCode.INVALID_COUNTRY_CODE): (
        "the phone number starts with no known country code — check the digits after +"
    ),
    ("phoneNumber", RowErrorCode.TOO_SHORT): "the phone number is too short for its country",
    ("phoneNumber", RowErrorCode.TOO_LONG): "the phone number is too long for its country",
    ("phoneNumber", RowErrorCode.INVALID_NUMBER): (
        "the phone number does not exist in its country's numbering plan — check the digits"
    ),
    ("language", RowErrorCode.INVALID_TYPE): "the language is not text",
    ("language", RowErrorCode.INVALID_TAG): (
        "the language is not a language tag such as en, hi-IN or pt-BR — fix or leave it empty"
    ),
}


@dataclass(frozen=True)
class ErrorGroup:
    field: str
    code: str
    rows: int
    sentence: str


def error_groups(errors: pl.DataFrame) -> list[ErrorGroup]:
    """One group per field and code, the largest first."""
    counted = (
        errors.group_by("field", "code")
        .agg(rows=pl.col("row_index").n_unique())
        .sort(["rows", "field", "code"], descending=[True, False, False])
    )
    return [
        ErrorGroup(field, code, rows, _SENTENCES.get((field, code), f"{field}: {code}"))
        for field, code, rows in counted.iter_rows()
    ]


@dataclass(frozen=True)
class ErrorsWindow:
    rows: list[dict[str, Any]]
    page: int
    pages: int
    matching: int


def errors_window(
    errors: pl.DataFrame, upload: UploadRecord | None, code: str | None, page: int
) -> ErrorsWindow:
    """Page `page` of the errors (of `code` only, if given), each with its row in the file."""
    if code is not None:
        errors = errors.filter(pl.col("code") == code)
    window = errors.slice((page - 1) * ERRORS_PER_PAGE, ERRORS_PER_PAGE)
    rows = [
        {**error, "file_row": file_row(upload.row_map, error["row_index"]) if upload else None}
        for error in window.iter_rows(named=True)
    ]
    pages = max(1, -(-errors.height // ERRORS_PER_PAGE))
    return ErrorsWindow(rows=rows, page=page, pages=pages, matching=errors.height)


def _answer(attempt: WebhookAttemptView) -> str:
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return attempt.error or attempt.outcome


@dataclass(frozen=True)
class WebhookState:
    state: str  # delivered, retrying, gone, blocked, exhausted, none
    text: str


def webhook_state(events: list[WebhookEventView]) -> WebhookState | None:
    """The newest completion event's delivery, in words; None without a webhook URL."""
    if not events:
        return None
    event = max(events, key=lambda item: item.created_at)
    last = event.attempts[-1] if event.attempts else None
    answer = _answer(last) if last else ""
    tries = f"{len(event.attempts)} attempt{'s' if len(event.attempts) != 1 else ''}"
    if event.state == "delivered":
        return WebhookState("delivered", f"Sent ({answer}) after {tries}.")
    if event.state == "pending":
        if last is None:
            return WebhookState("retrying", "Waiting for its first attempt.")
        when = event.next_attempt_at.wire() if event.next_attempt_at else "soon"
        return WebhookState("retrying", f"Retrying: {tries}, last: {answer}; next at {when}.")
    reasons = {
        "gone": "The receiver answered 410 Gone: no more attempts.",
        "blocked": "Refused: the URL points at an address that is not allowed.",
        "exhausted": f"Given up after {tries}; last: {answer}.",
    }
    return WebhookState(event.state, reasons.get(event.state, event.state))
