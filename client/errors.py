"""What the client raises and reports: `ApiError` (an error answer, read from its RFC 9457
problem details), `WaitTimeout`, and the `RetryNotice` handed to `on_retry`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from client.retry_after import parse_retry_after
from client.schemas import ImportStatusView


class ApiError(Exception):
    """An error answer (RFC 9457 problem details when the API sent them)."""

    def __init__(
        self,
        status: int,
        problem_type: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} {problem_type}: {detail or title}")
        self.status = status
        self.type = problem_type
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.retry_after_s = retry_after_s

    @property
    def slug(self) -> str:
        """`rate-limited`, `orchestrator-unavailable`, … (the last part of the problem type)."""
        return self.type.rsplit("/", 1)[-1]


class WaitTimeout(TimeoutError):
    """The import did not reach a terminal status in time; `last` is the latest status seen."""

    def __init__(self, import_id: str, timeout_s: float, last: ImportStatusView | None) -> None:
        super().__init__(f"{import_id} not finished after {timeout_s:.0f} s")
        self.import_id = import_id
        self.last = last


@dataclass(frozen=True)
class RetryNotice:
    """Handed to `on_retry` before each wait: what failed and how long the client waits."""

    method: str
    path: str
    attempt: int
    wait_s: float
    reason: str


def error_from_response(response: httpx.Response) -> ApiError:
    """The ApiError an error answer stands for (its problem details, else its status line)."""
    problem: dict[str, Any] = {}
    try:
        decoded = msgspec.json.decode(response.content)
        if isinstance(decoded, dict):
            problem = decoded
    except msgspec.DecodeError:
        pass
    return ApiError(
        response.status_code,
        str(problem.get("type", "about:blank")),
        str(problem.get("title", response.reason_phrase)),
        str(problem.get("detail", response.text[:500])),
        errors=problem.get("errors"),
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
    )
