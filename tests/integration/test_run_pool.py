"""The run worker pool's own rules, on real forked workers: an idle worker is handed out again,
one idle too long or past its runs exits, and at most `max_idle` wait. (A stack's runs through
the pool: tests/integration/test_code_server.py.)"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import pytest

from orchestration.runtime.run_pool import RUNS_PER_WORKER, WorkerPool

pytestmark = pytest.mark.integration

IDLE_SECONDS = 0.4


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(multiprocessing.get_context("forkserver"), max_idle=1, idle_seconds=60)
    yield pool
    for worker in pool._idle:
        worker.retire()


def _exits(process: multiprocessing.process.BaseProcess) -> None:
    process.join(timeout=30)
    assert process.exitcode == 0


def test_a_worker_given_back_is_handed_out_again(pool: WorkerPool) -> None:
    worker = pool.take()
    pool.give_back(worker, reusable=True)
    assert pool.take() is worker
    assert worker.process.is_alive()
    pool.give_back(worker, reusable=True)


def test_a_worker_not_reusable_or_beyond_the_idle_limit_exits(pool: WorkerPool) -> None:
    terminated, kept, extra = pool.take(), pool.take(), pool.take()
    pool.give_back(terminated, reusable=False)
    _exits(terminated.process)
    pool.give_back(kept, reusable=True)
    pool.give_back(extra, reusable=True)  # max_idle=1: one is enough
    _exits(extra.process)
    assert kept.process.is_alive()


def test_a_worker_exits_after_its_last_run(pool: WorkerPool) -> None:
    worker = pool.take()
    for _ in range(RUNS_PER_WORKER - 1):
        pool.give_back(worker, reusable=True)
        assert pool.take() is worker
    pool.give_back(worker, reusable=True)
    _exits(worker.process)


def test_an_idle_worker_exits_and_the_next_run_gets_a_new_one() -> None:
    pool = WorkerPool(
        multiprocessing.get_context("forkserver"), max_idle=1, idle_seconds=IDLE_SECONDS
    )
    worker = pool.take()
    pool.give_back(worker, reusable=True)
    time.sleep(IDLE_SECONDS * 3)
    _exits(worker.process)
    fresh = pool.take()
    assert fresh is not worker
    fresh.retire()
    _exits(fresh.process)
