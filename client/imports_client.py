"""A small typed client for the imports API: `ImportsClient` (sync) and `AsyncImportsClient`.

Plain httpx + msgspec (no litestar, no dagster), so any Python program can import it:

    with ImportsClient("http://127.0.0.1:8000", api_key) as client:
        accepted = client.create_import(contacts, idempotency_key="crm-2026-03-10-part-1")
        status = client.wait(accepted.import_id)

Both clients build their requests and read the answers with the same code (`_Calls`); only
sending and sleeping differ. 429 (honouring `Retry-After`), 503 and 409 `idempotency-key-in-flight`
are retried with backoff, as are connection errors; a POST is re-sent after a timeout only when it
carries an `Idempotency-Key` (or is a dry run), so a retry can never create a second import.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

import httpx
import msgspec
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from client.retry_after import parse_retry_after
from client.schemas import (
    MAX_CONTACTS,
    DryRunReport,
    ImportAccepted,
    ImportList,
    ImportStatusView,
    RowError,
    RowErrorList,
)
from core.contracts.status import TERMINAL

__all__ = [
    "MAX_CONTACTS",
    "ApiError",
    "AsyncImportsClient",
    "DryRunReport",
    "ImportAccepted",
    "ImportList",
    "ImportStatusView",
    "ImportsClient",
    "PollPolicy",
    "RetryNotice",
    "RetryPolicy",
    "RowError",
    "RowErrorList",
    "WaitTimeout",
    "encode_bulk_body",
]

BULK_PATH = "/v1/imports/api/bulk"
USER_AGENT = "oliai-client/1"
T = TypeVar("T")


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


@dataclass(frozen=True)
class RetryPolicy:
    """When to give up: after `max_attempts` tries or `max_elapsed_s` seconds, whichever first.

    A `Retry-After` header is honoured up to `max_retry_after_s`; otherwise the wait grows
    exponentially (with jitter) from `initial_wait_s` to `max_wait_s`.
    """

    max_attempts: int = 20
    max_elapsed_s: float = 600.0
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    max_retry_after_s: float = 120.0


@dataclass(frozen=True)
class PollPolicy:
    """Status polling: the first wait, the growth factor and the longest wait (seconds).

    A 10k import usually ends 1.2 to 2 s after its POST: polls at 0.2, 0.45, 0.76, 1.15, 1.64,
    2.25 s ... notice it within ~0.5 s, at most one poll a second afterwards."""

    initial_s: float = 0.2
    factor: float = 1.25
    max_s: float = 1.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_s)


def encode_bulk_body(
    contacts: Sequence[Mapping[str, Any]],
    *,
    audience_id: str | None = None,
    webhook_url: str | None = None,
) -> bytes:
    """The bulk request's JSON bytes; the same arguments always give the same bytes (the API
    compares an Idempotency-Key's bodies byte for byte)."""
    body: dict[str, Any] = {"contacts": contacts}
    if audience_id is not None:
        body["audienceId"] = audience_id
    if webhook_url is not None:
        body["webhookUrl"] = webhook_url
    return msgspec.json.encode(body)


def _api_error(response: httpx.Response) -> ApiError:
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


def _jitter(up_to: float) -> float:
    """Spreads clients that were told to wait alike (not a secret: `random` is right)."""
    return random.uniform(0, up_to)  # noqa: S311


class _Retryable(Exception):
    """Internal: an answer worth another try; unwrapped to its ApiError when retries end."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


# Nothing was created: always safe to send again.
_ALWAYS_RETRY = {429, 503}
# A gateway in front of the API may have lost the answer: only for safe-to-repeat calls.
_RETRY_WHEN_SAFE = {502, 504}


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API operation: the request to send and how to read its success answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    # Whether sending it twice is harmless (GETs, dry runs, POSTs with an Idempotency-Key).
    repeatable: bool = True

    def check(self, response: httpx.Response) -> T:
        if response.is_success:
            return self.parse(response)
        error = _api_error(response)
        retry = response.status_code in _ALWAYS_RETRY or (
            self.repeatable and response.status_code in _RETRY_WHEN_SAFE
        )
        if error.slug == "idempotency-key-in-flight":
            retry = True
        raise _Retryable(error) if retry else error


def _decoder(kind: type[T]) -> Callable[[httpx.Response], T]:
    decoder = msgspec.json.Decoder(kind)
    return lambda response: decoder.decode(response.content)


def _parse_errors_csv(response: httpx.Response) -> list[RowError]:
    rows = csv.DictReader(io.StringIO(response.text))
    return [
        RowError(
            row_index=int(row["row_index"]),
            field=row["field"],
            code=row["code"],
            message=row["message"],
            value=row["value"] or None,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class _Deadline:
    import_id: str
    timeout_s: float
    at: float


def _deadline(import_id: str, timeout_s: float | None) -> _Deadline | None:
    return (
        None if timeout_s is None else _Deadline(import_id, timeout_s, time.monotonic() + timeout_s)
    )


def _finished(status: ImportStatusView, deadline: _Deadline | None, next_delay: float) -> bool:
    """True once the import ended; raises WaitTimeout when the next poll would be too late."""
    if status.status in TERMINAL:
        return True
    if deadline is not None and time.monotonic() + next_delay > deadline.at:
        raise WaitTimeout(deadline.import_id, deadline.timeout_s, status)
    return False


class _Calls:
    """Request building and retry rules shared by the sync and the async client."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy | None,
        on_retry: Callable[[RetryNotice], None] | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Names the API and the key (never shows the key): checkpoints are per API and key.
        self.identity = hashlib.sha256(f"{self.base_url}\n{api_key}".encode()).hexdigest()[:16]
        self.retry_policy = retry or RetryPolicy()
        self.on_retry = on_retry
        self._client_options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": timeout,
            "headers": {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
        }

    # -- the operations -------------------------------------------------------------------

    def _create_import(
        self,
        contacts: Sequence[Mapping[str, Any]],
        audience_id: str | None,
        webhook_url: str | None,
        idempotency_key: str | None,
    ) -> _Call[ImportAccepted]:
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return _Call(
            "POST",
            BULK_PATH,
            _decoder(ImportAccepted),
            headers=headers,
            content=encode_bulk_body(contacts, audience_id=audience_id, webhook_url=webhook_url),
            repeatable=idempotency_key is not None,
        )

    def _dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        audience_id: str | None,
        webhook_url: str | None,
    ) -> _Call[DryRunReport]:
        return _Call(
            "POST",
            BULK_PATH,
            _decoder(DryRunReport),
            params={"dryRun": "true"},
            headers={"Content-Type": "application/json"},
            content=encode_bulk_body(contacts, audience_id=audience_id, webhook_url=webhook_url),
        )

    def _status(self, import_id: str) -> _Call[ImportStatusView]:
        return _Call("GET", f"/v1/imports/{import_id}/status", _decoder(ImportStatusView))

    def _list(self, page: int, limit: int) -> _Call[ImportList]:
        params = {"page": str(page), "limit": str(limit)}
        return _Call("GET", "/v1/imports", _decoder(ImportList), params=params)

    def _errors(self, import_id: str, page: int, limit: int) -> _Call[RowErrorList]:
        params = {"page": str(page), "limit": str(limit)}
        return _Call(
            "GET", f"/v1/imports/{import_id}/errors", _decoder(RowErrorList), params=params
        )

    def _all_errors(self, import_id: str) -> _Call[list[RowError]]:
        return _Call(
            "GET", f"/v1/imports/{import_id}/errors", _parse_errors_csv, params={"format": "csv"}
        )

    # -- retries --------------------------------------------------------------------------

    def _retrying(self, call: _Call[Any]) -> dict[str, Any]:
        """Keyword arguments for tenacity's `Retrying` and `AsyncRetrying` alike."""
        policy = self.retry_policy

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _Retryable):
                return True
            # The request never left: harmless to send again, whatever it is.
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
                return True
            return call.repeatable and isinstance(exc, httpx.TransportError)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.error.retry_after_s is not None:
                # The server said when: wait that long, plus a little jitter so clients spread.
                return min(exc.error.retry_after_s, policy.max_retry_after_s) + _jitter(0.25)
            exponential = policy.initial_wait_s * 2 ** (state.attempt_number - 1)
            return min(exponential + _jitter(policy.initial_wait_s), policy.max_wait_s)

        def before_sleep(state: RetryCallState) -> None:
            if self.on_retry is None or state.outcome is None or state.next_action is None:
                return
            exc = state.outcome.exception()
            reason = (
                f"HTTP {exc.error.status} {exc.error.slug}"
                if isinstance(exc, _Retryable)
                else type(exc).__name__
            )
            self.on_retry(
                RetryNotice(
                    call.method, call.path, state.attempt_number, state.next_action.sleep, reason
                )
            )

        return {
            "retry": retry_if_exception(retryable),
            "stop": stop_after_attempt(policy.max_attempts)
            | stop_after_delay(policy.max_elapsed_s),
            "wait": wait,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    @staticmethod
    def _request_options(call: _Call[Any]) -> dict[str, Any]:
        return {"params": call.params, "headers": call.headers, "content": call.content}


class ImportsClient(_Calls):
    """The imports API over a blocking httpx client. Use as a context manager, or `close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 60.0,
        retry: RetryPolicy | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, on_retry=on_retry)
        self._http = httpx.Client(transport=transport, **self._client_options)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: _Call[T]) -> T:
        try:
            for attempt in Retrying(**self._retrying(call)):
                with attempt:
                    response = self._http.request(
                        call.method, call.path, **self._request_options(call)
                    )
                    return call.check(response)
        except _Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def create_import(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> ImportAccepted:
        """POST up to 10,000 contacts; 202 → the new (or, for a repeated key, the first) import."""
        return self._send(self._create_import(contacts, audience_id, webhook_url, idempotency_key))

    def dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
    ) -> DryRunReport:
        """Validate and normalize without creating anything (`?dryRun=true`)."""
        return self._send(self._dry_run(contacts, audience_id, webhook_url))

    def get_status(self, import_id: str) -> ImportStatusView:
        return self._send(self._status(import_id))

    def list_imports(self, *, page: int = 1, limit: int = 20) -> ImportList:
        return self._send(self._list(page, limit))

    def get_errors(self, import_id: str, *, page: int = 1, limit: int = 100) -> RowErrorList:
        return self._send(self._errors(import_id, page, limit))

    def all_errors(self, import_id: str) -> list[RowError]:
        """Every row error of the import, in one request (the CSV download)."""
        return self._send(self._all_errors(import_id))

    def wait(
        self, import_id: str, *, timeout_s: float | None = None, poll: PollPolicy | None = None
    ) -> ImportStatusView:
        """Poll the status (with backoff) until COMPLETED, COMPLETED_WITH_ERRORS or FAILED."""
        deadline = _deadline(import_id, timeout_s)
        for delay in (poll or PollPolicy()).delays():
            status = self.get_status(import_id)
            if _finished(status, deadline, delay):
                return status
            time.sleep(delay)
        raise AssertionError("unreachable: the poll delays never end")


class AsyncImportsClient(_Calls):
    """The imports API over an asyncio httpx client. `async with`, or `await aclose()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 60.0,
        retry: RetryPolicy | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, on_retry=on_retry)
        self._http = httpx.AsyncClient(transport=transport, **self._client_options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: _Call[T]) -> T:
        try:
            async for attempt in AsyncRetrying(**self._retrying(call)):
                with attempt:
                    response = await self._http.request(
                        call.method, call.path, **self._request_options(call)
                    )
                    return call.check(response)
        except _Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def create_import(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> ImportAccepted:
        """POST up to 10,000 contacts; 202 → the new (or, for a repeated key, the first) import."""
        return await self._send(
            self._create_import(contacts, audience_id, webhook_url, idempotency_key)
        )

    async def dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
    ) -> DryRunReport:
        """Validate and normalize without creating anything (`?dryRun=true`)."""
        return await self._send(self._dry_run(contacts, audience_id, webhook_url))

    async def get_status(self, import_id: str) -> ImportStatusView:
        return await self._send(self._status(import_id))

    async def list_imports(self, *, page: int = 1, limit: int = 20) -> ImportList:
        return await self._send(self._list(page, limit))

    async def get_errors(self, import_id: str, *, page: int = 1, limit: int = 100) -> RowErrorList:
        return await self._send(self._errors(import_id, page, limit))

    async def all_errors(self, import_id: str) -> list[RowError]:
        """Every row error of the import, in one request (the CSV download)."""
        return await self._send(self._all_errors(import_id))

    async def wait(
        self, import_id: str, *, timeout_s: float | None = None, poll: PollPolicy | None = None
    ) -> ImportStatusView:
        """Poll the status (with backoff) until COMPLETED, COMPLETED_WITH_ERRORS or FAILED."""
        deadline = _deadline(import_id, timeout_s)
        for delay in (poll or PollPolicy()).delays():
            status = await self.get_status(import_id)
            if _finished(status, deadline, delay):
                return status
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the poll delays never end")
