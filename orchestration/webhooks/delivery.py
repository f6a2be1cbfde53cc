"""One webhook attempt, a bounded batch of attempts, and the retry schedule.

Pure delivery logic: the caller signs, records each AttemptResult and schedules the next attempt.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from http.cookiejar import CookieJar, CookiePolicy

import httpx

from client.retry_after import parse_retry_after
from orchestration.webhooks.ssrf import BlockedDestination, Target, resolve_target

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_BYTES = 1024
# Delay after attempt N is RETRY_SCHEDULE_S[N - 1]: about 2.7 h from first to last attempt.
RETRY_SCHEDULE_S = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 3600.0)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
JITTER = 0.2
RETRY_AFTER_CAP_S = 3600.0


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # network error, timeout, 3xx, 5xx, 429 and 4xx other than 410
    GONE = "gone"  # 410: the receiver asks us to stop
    BLOCKED = "blocked"  # the URL is refused; retrying cannot help


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after_s: float | None
    response_excerpt: str | None


@dataclass(frozen=True)
class DeliveryJob:
    url: str
    body: bytes
    headers: Mapping[str, str]


class RefuseAllCookies(CookiePolicy):
    """Stores no cookie and sends none: deliveries for every organization share one client."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: object, request: object) -> bool:
        return False

    def return_ok(self, cookie: object, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False


def new_client(*, concurrency: int = 16) -> httpx.AsyncClient:
    """The client deliveries share: no redirects, no reuse, no cookies, no proxies from env."""
    return httpx.AsyncClient(
        follow_redirects=False,
        # Connections are keyed by IP, so a kept-alive connection verified for one host name
        # could carry another tenant's request to the same IP: never keep one.
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
        # One receiver's Set-Cookie must never reach another receiver on the same IP. Handed
        # over as a bare jar: httpx copies an httpx.Cookies into a jar of the default policy.
        cookies=CookieJar(RefuseAllCookies()),
        trust_env=False,
    )


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_private: bool,
    timeout_s: float = 10.0,
) -> AttemptResult:
    """POST `body` to `url` once; never raises, every failure is an AttemptResult.

    The whole attempt (DNS, connect, TLS, status and up to 64 KiB of body) gets `timeout_s`.
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            # getaddrinfo blocks; a slow resolver must not stall the other deliveries.
            target = await asyncio.to_thread(resolve_target, url, allow_private=allow_private)
            async with client.stream(
                "POST",
                target.pinned_url,
                content=body,
                headers=_request_headers(target, headers),
                # Without this TLS would verify the certificate against the IP, not the name.
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
                follow_redirects=False,
                timeout=timeout_s,
            ) as response:
                head = await _read_head(response)
    except BlockedDestination as exc:
        return _failed(Outcome.BLOCKED, str(exc), started)
    except TimeoutError:
        return _failed(Outcome.RETRY, f"no complete response within {timeout_s:g} s", started)
    except Exception as exc:  # connection refused, TLS, protocol errors, DNS: try again later
        return _failed(Outcome.RETRY, _describe(exc), started)

    outcome = _judge(response.status_code)
    return AttemptResult(
        outcome=outcome,
        status_code=response.status_code,
        error=None if outcome is Outcome.DELIVERED else f"HTTP {response.status_code}",
        duration_ms=_elapsed_ms(started),
        retry_after_s=(
            parse_retry_after(response.headers.get("retry-after"))
            if outcome is Outcome.RETRY
            else None
        ),
        response_excerpt=head[:EXCERPT_BYTES].decode("utf-8", errors="replace") or None,
    )


async def deliver_all(
    jobs: Sequence[DeliveryJob],
    *,
    allow_private: bool,
    concurrency: int = 16,
    timeout_s: float = 10.0,
) -> list[AttemptResult]:
    """One attempt per job, at most `concurrency` at once; results in job order."""
    semaphore = asyncio.Semaphore(concurrency)
    async with new_client(concurrency=concurrency) as client:

        async def attempt(job: DeliveryJob) -> AttemptResult:
            async with semaphore:
                return await deliver(
                    client,
                    job.url,
                    job.body,
                    job.headers,
                    allow_private=allow_private,
                    timeout_s=timeout_s,
                )

        return await asyncio.gather(*(attempt(job) for job in jobs))


def next_retry_delay(
    attempts_made: int, retry_after_s: float | None, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before attempt `attempts_made + 1`, or None once MAX_ATTEMPTS are spent.

    The schedule gets ±JITTER so receivers that failed together do not retry together; a larger
    Retry-After wins, capped at RETRY_AFTER_CAP_S so a receiver cannot park a delivery forever.
    """
    if attempts_made < 1:
        raise ValueError("attempts_made counts attempts already made, starting at 1")
    if attempts_made >= MAX_ATTEMPTS:
        return None
    jitter = (rng or random.SystemRandom()).uniform(1 - JITTER, 1 + JITTER)
    delay = RETRY_SCHEDULE_S[attempts_made - 1] * jitter
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, RETRY_AFTER_CAP_S))
    return delay


def _request_headers(target: Target, headers: Mapping[str, str]) -> httpx.Headers:
    merged = httpx.Headers(headers)
    merged["host"] = target.host_header
    # Raw bytes are read below; a compressed body would make the excerpt unreadable.
    merged["accept-encoding"] = "identity"
    return merged


async def _read_head(response: httpx.Response) -> bytes:
    """At most MAX_RESPONSE_BYTES of the body; the rest is never read (closing drops it)."""
    head = bytearray()
    async for chunk in response.aiter_raw():
        head += chunk
        if len(head) >= MAX_RESPONSE_BYTES:
            break
    return bytes(head[:MAX_RESPONSE_BYTES])


def _judge(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.RETRY


def _failed(outcome: Outcome, error: str, started: float) -> AttemptResult:
    return AttemptResult(
        outcome=outcome,
        status_code=None,
        error=error,
        duration_ms=_elapsed_ms(started),
        retry_after_s=None,
        response_excerpt=None,
    )


def _describe(exc: Exception) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
