"""How long the client keeps at it: `RetryPolicy` for a request's retries, `PollPolicy` for
status polling, the jitter that spreads clients, and the deadline of a wait."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from client.errors import WaitTimeout
from client.schemas import ImportStatusView
from core.contracts.status import TERMINAL


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


def jitter(up_to: float) -> float:
    """Spreads clients that were told to wait alike (not a secret: `random` is right)."""
    return random.uniform(0, up_to)  # noqa: S311


@dataclass(frozen=True)
class Deadline:
    import_id: str
    timeout_s: float
    at: float


def deadline_after(import_id: str, timeout_s: float | None) -> Deadline | None:
    return (
        None if timeout_s is None else Deadline(import_id, timeout_s, time.monotonic() + timeout_s)
    )


def import_finished(status: ImportStatusView, deadline: Deadline | None, next_delay: float) -> bool:
    """True once the import ended; raises WaitTimeout when the next poll would be too late."""
    if status.status in TERMINAL:
        return True
    if deadline is not None and time.monotonic() + next_delay > deadline.at:
        raise WaitTimeout(deadline.import_id, deadline.timeout_s, status)
    return False
