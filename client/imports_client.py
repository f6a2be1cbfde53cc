"""A small typed client for the imports API: `ImportsClient` (sync) and `AsyncImportsClient`.

Plain httpx + msgspec (no litestar, no dagster), so any Python program can import it:

    with ImportsClient("http://127.0.0.1:8000", api_key) as client:
        accepted = client.create_import(contacts, idempotency_key="crm-2026-03-10-part-1")
        status = client.wait(accepted.import_id)

Both clients build their requests and read the answers with the same code (`_Calls`); only
sending and sleeping differ. 429 (honouring `Retry-After`), 503 and 409 `idempotency-key-in-flight`
are retried with backoff, as are connection errors; a POST is re-sent after a timeout only when it
carries an `Idempotency-Key` (or is a dry run), so a retry can never create a second import.

The errors are defined in `client.errors`, the retry and poll policies in `client.policies`, a
request as data in `client.operations`; the public names are importable from here too.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from client.errors import ApiError, RetryNotice, WaitTimeout
from client.operations import (
    BULK_PATH,
    DEFAULT_OPTIONS,
    Call,
    Retryable,
    encode_bulk_body,
    json_decoder,
    parse_errors_csv,
)
from client.policies import PollPolicy, RetryPolicy, deadline_after, import_finished, jitter
from client.schemas import (
    MAX_CONTACTS,
    DryRunReport,
    ImportAccepted,
    ImportList,
    ImportPhoneSummary,
    ImportStatusView,
    RowError,
    RowErrorList,
)
from core.contracts.import_options import ApplyOptions, ImportMode

__all__ = [
    "MAX_CONTACTS",
    "ApiError",
    "ApplyOptions",
    "AsyncImportsClient",
    "DryRunReport",
    "ImportAccepted",
    "ImportList",
    "ImportMode",
    "ImportPhoneSummary",
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

USER_AGENT = "oliai-client/1"
T = TypeVar("T")


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
        options: ApplyOptions,
        idempotency_key: str | None,
    ) -> Call[ImportAccepted]:
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return Call(
            "POST",
            BULK_PATH,
            json_decoder(ImportAccepted),
            headers=headers,
            content=encode_bulk_body(
                contacts, audience_id=audience_id, webhook_url=webhook_url, options=options
            ),
            repeatable=idempotency_key is not None,
        )

    def _dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        audience_id: str | None,
        webhook_url: str | None,
        options: ApplyOptions,
    ) -> Call[DryRunReport]:
        return Call(
            "POST",
            BULK_PATH,
            json_decoder(DryRunReport),
            params={"dryRun": "true"},
            headers={"Content-Type": "application/json"},
            content=encode_bulk_body(
                contacts, audience_id=audience_id, webhook_url=webhook_url, options=options
            ),
        )

    def _status(self, import_id: str) -> Call[ImportStatusView]:
        return Call("GET", f"/v1/imports/{import_id}/status", json_decoder(ImportStatusView))

    def _summary(self, import_id: str) -> Call[ImportPhoneSummary]:
        path = f"/v1/imports/{import_id}/summary"
        return Call("GET", path, json_decoder(ImportPhoneSummary))

    def _revert(self, import_id: str) -> Call[ImportStatusView]:
        # Repeatable: the server records one revert per import, so a resend changes nothing.
        return Call("POST", f"/v1/imports/{import_id}/revert", json_decoder(ImportStatusView))

    def _list(self, page: int, limit: int) -> Call[ImportList]:
        params = {"page": str(page), "limit": str(limit)}
        return Call("GET", "/v1/imports", json_decoder(ImportList), params=params)

    def _errors(self, import_id: str, page: int, limit: int) -> Call[RowErrorList]:
        params = {"page": str(page), "limit": str(limit)}
        return Call(
            "GET", f"/v1/imports/{import_id}/errors", json_decoder(RowErrorList), params=params
        )

    def _all_errors(self, import_id: str) -> Call[list[RowError]]:
        return Call(
            "GET", f"/v1/imports/{import_id}/errors", parse_errors_csv, params={"format": "csv"}
        )

    # -- retries --------------------------------------------------------------------------

    def _retrying(self, call: Call[Any]) -> dict[str, Any]:
        """Keyword arguments for tenacity's `Retrying` and `AsyncRetrying` alike."""
        policy = self.retry_policy

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, Retryable):
                return True
            # The request never left: harmless to send again, whatever it is.
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
                return True
            return call.repeatable and isinstance(exc, httpx.TransportError)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, Retryable) and exc.error.retry_after_s is not None:
                # The server said when: wait that long, plus a little jitter so clients spread.
                return min(exc.error.retry_after_s, policy.max_retry_after_s) + jitter(0.25)
            exponential = policy.initial_wait_s * 2 ** (state.attempt_number - 1)
            return min(exponential + jitter(policy.initial_wait_s), policy.max_wait_s)

        def before_sleep(state: RetryCallState) -> None:
            if self.on_retry is None or state.outcome is None or state.next_action is None:
                return
            exc = state.outcome.exception()
            reason = (
                f"HTTP {exc.error.status} {exc.error.slug}"
                if isinstance(exc, Retryable)
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
    def _request_options(call: Call[Any]) -> dict[str, Any]:
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

    def _send(self, call: Call[T]) -> T:
        try:
            for attempt in Retrying(**self._retrying(call)):
                with attempt:
                    response = self._http.request(
                        call.method, call.path, **self._request_options(call)
                    )
                    return call.check(response)
        except Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def create_import(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        options: ApplyOptions = DEFAULT_OPTIONS,
        idempotency_key: str | None = None,
    ) -> ImportAccepted:
        """POST up to 10,000 contacts; 202 → the new (or, for a repeated key, the first) import."""
        call = self._create_import(contacts, audience_id, webhook_url, options, idempotency_key)
        return self._send(call)

    def dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        options: ApplyOptions = DEFAULT_OPTIONS,
    ) -> DryRunReport:
        """Validate, normalize and say what each row would do; create nothing (`dryRun=true`)."""
        return self._send(self._dry_run(contacts, audience_id, webhook_url, options))

    def get_status(self, import_id: str) -> ImportStatusView:
        return self._send(self._status(import_id))

    def get_summary(self, import_id: str) -> ImportPhoneSummary:
        """The status fields and the import's numbers by phone type and region (409, as
        `ApiError`, until the import's write committed)."""
        return self._send(self._summary(import_id))

    def revert(self, import_id: str) -> ImportStatusView:
        """Ask for the import to be reverted (POST /v1/imports/{id}/revert); the import's status
        with its `revert` (REVERTED once it ran: poll `get_status`). Asking again is harmless."""
        return self._send(self._revert(import_id))

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
        deadline = deadline_after(import_id, timeout_s)
        for delay in (poll or PollPolicy()).delays():
            status = self.get_status(import_id)
            if import_finished(status, deadline, delay):
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

    async def _send(self, call: Call[T]) -> T:
        try:
            async for attempt in AsyncRetrying(**self._retrying(call)):
                with attempt:
                    response = await self._http.request(
                        call.method, call.path, **self._request_options(call)
                    )
                    return call.check(response)
        except Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def create_import(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        options: ApplyOptions = DEFAULT_OPTIONS,
        idempotency_key: str | None = None,
    ) -> ImportAccepted:
        """POST up to 10,000 contacts; 202 → the new (or, for a repeated key, the first) import."""
        return await self._send(
            self._create_import(contacts, audience_id, webhook_url, options, idempotency_key)
        )

    async def dry_run(
        self,
        contacts: Sequence[Mapping[str, Any]],
        *,
        audience_id: str | None = None,
        webhook_url: str | None = None,
        options: ApplyOptions = DEFAULT_OPTIONS,
    ) -> DryRunReport:
        """Validate, normalize and say what each row would do; create nothing (`dryRun=true`)."""
        return await self._send(self._dry_run(contacts, audience_id, webhook_url, options))

    async def get_status(self, import_id: str) -> ImportStatusView:
        return await self._send(self._status(import_id))

    async def get_summary(self, import_id: str) -> ImportPhoneSummary:
        """As `ImportsClient.get_summary`."""
        return await self._send(self._summary(import_id))

    async def revert(self, import_id: str) -> ImportStatusView:
        """As `ImportsClient.revert`."""
        return await self._send(self._revert(import_id))

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
        deadline = deadline_after(import_id, timeout_s)
        for delay in (poll or PollPolicy()).delays():
            status = await self.get_status(import_id)
            if import_finished(status, deadline, delay):
                return status
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the poll delays never end")
