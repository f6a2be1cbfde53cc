"""The retry schedule: spans well over an hour, jittered, honours Retry-After within a cap."""

import random

import pytest

from orchestration.webhooks import MAX_ATTEMPTS, next_retry_delay

SCHEDULE = [5, 30, 120, 600, 1800, 3600, 3600]


def test_max_attempts_is_the_first_attempt_plus_one_per_scheduled_retry() -> None:
    assert len(SCHEDULE) + 1 == MAX_ATTEMPTS


@pytest.mark.parametrize(("attempts_made", "base"), list(enumerate(SCHEDULE, start=1)))
def test_schedule_with_jitter_bounds(attempts_made: int, base: float) -> None:
    rng = random.Random(attempts_made)
    delays = [next_retry_delay(attempts_made, None, rng) or 0.0 for _ in range(500)]
    assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
    # Both ends of the band are reached, so it is really ±20 %, not narrower.
    assert min(delays) < base * 0.82
    assert max(delays) > base * 1.18


class FixedJitter(random.Random):
    """An rng whose jitter is always `factor` (the low or high end of the band, or none)."""

    def __init__(self, factor: float) -> None:
        super().__init__(0)
        self.factor = factor

    def uniform(self, a: float, b: float) -> float:
        assert (a, b) == (0.8, 1.2)
        return self.factor


def delays_with(factor: float) -> list[float | None]:
    rng = FixedJitter(factor)
    return [next_retry_delay(attempts, None, rng) for attempts in range(1, MAX_ATTEMPTS)]


def test_without_jitter_the_delays_are_the_schedule() -> None:
    assert delays_with(1.0) == SCHEDULE


def test_retries_span_well_over_an_hour_even_with_unlucky_jitter() -> None:
    unluckiest = delays_with(0.8)
    assert unluckiest == pytest.approx([base * 0.8 for base in SCHEDULE], rel=1e-12)
    assert sum(d or 0.0 for d in unluckiest) == pytest.approx(7804.0, rel=1e-12)  # > 2 h


def test_exhausted_attempts_return_none() -> None:
    assert next_retry_delay(MAX_ATTEMPTS, None) is None
    assert next_retry_delay(MAX_ATTEMPTS + 3, 10.0) is None
    assert next_retry_delay(MAX_ATTEMPTS - 1, None) is not None


@pytest.mark.parametrize(
    ("attempts_made", "retry_after", "low", "high"),
    [
        (1, 7.0, 7.0, 7.0),  # larger than 5 s ± 20 %: wins
        (1, 2.0, 4.0, 6.0),  # smaller: the schedule wins
        (4, 3 * 3600.0, 3600.0, 3600.0),  # 3 h asked, capped at 1 h
        (6, 10 * 3600.0, 3600.0, 4320.0),  # cap below the jittered schedule: schedule wins
    ],
)
def test_retry_after_honoured_when_larger_and_capped(
    attempts_made: int, retry_after: float, low: float, high: float
) -> None:
    rng = random.Random(0)
    for _ in range(100):
        delay = next_retry_delay(attempts_made, retry_after, rng)
        assert delay is not None
        assert low <= delay <= high


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="starting at 1"):
        next_retry_delay(0, None)
