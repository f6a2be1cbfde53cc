"""The one place where errors become RFC 9457 problem details (`application/problem+json`).

Three sources: `Problem`, raised by HTTP-level checks (request shape, credentials); the service
layer's domain exceptions (`api/errors.py`), mapped by the `SERVICE_PROBLEMS` table; and
Litestar's own `HTTPException`s. Anything else is a 500 (`internal_error_handler`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.status_codes import (
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from api.errors import (
    FileTooLarge,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ImportNotApplied,
    ImportNotEnded,
    ImportNotFound,
    InvalidFile,
    NotReverted,
    OrchestratorUnavailable,
    RequestPruned,
    RevertExpired,
    RowsNotChecked,
    ServiceError,
    UnsupportedFileType,
)

PROBLEM_BASE = "/problems/"


class Problem(ProblemDetailsException):
    """A domain error: `slug` names the problem type (documented in docs/api.md).

    `errors` lists field-level problems as `{"pointer": <JSON pointer>, "detail": <message>}`.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            detail=detail,
            status_code=status,
            type_=PROBLEM_BASE + slug,
            title=title,
            headers=headers,
            extra={"errors": errors} if errors else None,
        )


@dataclass(frozen=True)
class ProblemType:
    status: int
    slug: str
    title: str
    headers: dict[str, str] | None = None


# Every `ServiceError` subclass, with the problem it answers as (docs/api.md lists the types).
SERVICE_PROBLEMS: dict[type[ServiceError], ProblemType] = {
    ImportNotFound: ProblemType(404, "not-found", "Import not found"),
    OrchestratorUnavailable: ProblemType(
        503,
        "orchestrator-unavailable",
        "Imports are temporarily unavailable",
        headers={"Retry-After": "5"},
    ),
    IdempotencyKeyReused: ProblemType(
        422, "idempotency-key-reused", "Idempotency-Key reused with a different body"
    ),
    IdempotencyKeyInFlight: ProblemType(
        409,
        "idempotency-key-in-flight",
        "A request with this Idempotency-Key is in progress",
        headers={"Retry-After": "1"},
    ),
    RowsNotChecked: ProblemType(
        409,
        "rows-not-checked",
        "The import's rows have not been checked yet",
        headers={"Retry-After": "1"},
    ),
    RequestPruned: ProblemType(410, "request-pruned", "The import's request body is gone"),
    UnsupportedFileType: ProblemType(415, "unsupported-file-type", "Unsupported file type"),
    InvalidFile: ProblemType(422, "invalid-file", "The file cannot be imported"),
    FileTooLarge: ProblemType(413, "file-too-large", "The file is too large"),
    ImportNotEnded: ProblemType(
        409, "import-not-ended", "The import has not ended yet", headers={"Retry-After": "1"}
    ),
    ImportNotApplied: ProblemType(409, "import-not-applied", "The import wrote nothing"),
    RevertExpired: ProblemType(410, "revert-expired", "The import can no longer be reverted"),
    NotReverted: ProblemType(409, "not-reverted", "The import has not been reverted"),
}


def problem_for(exc: ServiceError) -> Problem:
    """The problem a service error answers as: the table's type, status and title, and the
    exception's detail."""
    for cls in type(exc).__mro__:
        if cls in SERVICE_PROBLEMS:
            kind = SERVICE_PROBLEMS[cls]
            headers = dict(kind.headers) if kind.headers else None
            return Problem(kind.status, kind.slug, kind.title, exc.detail, headers=headers)
    raise LookupError(f"no problem type for {type(exc).__name__}: add it to SERVICE_PROBLEMS")


def _field_error(item: dict[str, Any]) -> dict[str, str]:
    """A Litestar validation message as a field-level problem: a JSON pointer into the body,
    or the name of the query, path or header parameter."""
    source = item.get("source")
    location = str(getattr(source, "value", source) or "query")
    key = str(item.get("key", ""))
    detail = str(item.get("message", ""))
    if location == "body":
        return {"pointer": "/" + key.replace(".", "/"), "detail": detail}
    if location == "header":  # Litestar names the handler argument: idempotency_key
        key = "-".join(word.capitalize() for word in key.split("_"))
    return {"parameter": key, "detail": detail}


def _from_http_exception_factory(
    max_body_bytes: int,
) -> Callable[[HTTPException], ProblemDetailsException]:
    def from_http_exception(exc: HTTPException) -> ProblemDetailsException:
        """Litestar's own errors (404 route, 405, 413 body too large, bad query params)."""
        status = exc.status_code
        title, detail = HTTPStatus(status).phrase, exc.detail
        extra: dict[str, Any] | None = None
        headers = exc.headers
        if isinstance(exc, ValidationException):
            title = "Invalid request parameters"
            if isinstance(exc.extra, list):
                errors = [_field_error(item) for item in exc.extra if isinstance(item, dict)]
                extra = {"errors": errors}
        elif status == HTTP_429_TOO_MANY_REQUESTS:
            # Litestar's limiter sends RateLimit-* only; clients and proxies also read Retry-After.
            reset = (exc.headers or {}).get("RateLimit-Reset", "1")
            headers = {**(exc.headers or {}), "Retry-After": reset}
            detail = f"Too many requests for this organization; retry in {reset} s."
        elif status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            detail = f"The request body is larger than the {max_body_bytes}-byte limit."
        return ProblemDetailsException(
            status_code=status,
            type_=PROBLEM_BASE + _SLUGS.get(status, "http-error"),
            title=title,
            detail=detail,
            headers=headers,
            extra=extra,
        )

    return from_http_exception


_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    408: "request-timeout",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return ProblemDetailsException(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        type_=PROBLEM_BASE + "internal-error",
        title="Internal server error",
        detail="The server failed to handle this request; nothing was created. Retry later.",
    ).to_response(request)


def problem_details_plugin(max_body_bytes: int) -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={
                HTTPException: _from_http_exception_factory(max_body_bytes),
                ServiceError: problem_for,
            },
        )
    )
