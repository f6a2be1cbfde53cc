"""The Contacts UI's error pages: a problem on a UI page is an HTML page inside the UI, never the
API's JSON. An unknown import and another organization's import get the same 404 page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template

from api.errors import ServiceError
from api.problems import problem_for

# Pages are private and change: never kept by the browser (Back after sign-out shows nothing).
NO_STORE = {"Cache-Control": "no-store"}

_PAGES: dict[int, tuple[str, str]] = {
    400: ("This address is not valid", "A part of the page address is out of range or malformed."),
    403: (
        "The form expired",
        "The page was open too long or your session changed. Reload the page and send it again.",
    ),
    404: ("Not found", "There is no such import in your organization."),
}


def error_page(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """An HTML page with the status, a plain title and what to do next (a 403 on a UI page is
    the CSRF check: the form's token expired)."""
    if isinstance(exc, ServiceError):
        problem = problem_for(exc)
        status, title, detail = problem.status_code, problem.title, problem.detail
    elif isinstance(exc, HTTPException):
        status, title, detail = exc.status_code, "Something went wrong", exc.detail
    else:
        raise exc
    title, detail = _PAGES.get(status, (title, detail))
    return Template(
        "error.html",
        context={"status": status, "title": title, "detail": detail},
        status_code=status,
        headers=NO_STORE,
    )
