"""The one place where errors become RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

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


def _from_http_exception(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own errors (404 route, 405, 413 body too large, bad query params)."""
    extra: dict[str, Any] | None = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        extra = {
            "errors": [
                {"parameter": str(item.get("key", "")), "detail": str(item.get("message", ""))}
                for item in exc.extra
                if isinstance(item, dict)
            ]
        }
    slug = {
        400: "bad-request",
        404: "not-found",
        405: "method-not-allowed",
        413: "payload-too-large",
        415: "unsupported-media-type",
        429: "rate-limited",
    }
    return ProblemDetailsException(
        status_code=exc.status_code,
        type_=PROBLEM_BASE + slug.get(exc.status_code, "http-error"),
        title=exc.detail,
        detail=exc.detail,
        headers=exc.headers,
        extra=extra,
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return ProblemDetailsException(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        type_=PROBLEM_BASE + "internal-error",
        title="Internal server error",
        detail="The server failed to handle this request; nothing was created. Retry later.",
    ).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={HTTPException: _from_http_exception},
        )
    )
