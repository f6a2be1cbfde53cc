"""The run queue's limits as Dagster reads them from the dagster.yaml the stack writes: two runs
per organization, and `max_concurrent_runs` in all (two per core unless set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance

from core.contracts import RUNS_PER_ORGANIZATION, tags
from core.settings import Settings
from orchestration.runtime.instance import InstanceDatabase, write_instance_config


def queue_limits(home: Path, max_concurrent_runs: int) -> tuple[int, dict[str, int]]:
    # Dagster's SQLite storages: the run queue's config is read the same way, without a server.
    database = InstanceDatabase("postgresql://unused@127.0.0.1/unused", None, sqlite=True)
    write_instance_config(home, database, max_concurrent_runs)
    with DagsterInstance.from_config(str(home)) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        per_tag = {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits}
        return queue.max_concurrent_runs, per_tag


def test_two_runs_per_core_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OLIAI_MAX_CONCURRENT_RUNS", raising=False)
    cores = len(os.sched_getaffinity(0))
    settings = Settings()
    assert settings.max_concurrent_runs == 2 * cores
    assert queue_limits(tmp_path, settings.max_concurrent_runs) == (
        2 * cores,
        {tags.ORG_ID: RUNS_PER_ORGANIZATION},
    )


def test_the_variable_sets_the_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLIAI_MAX_CONCURRENT_RUNS", "13")
    assert queue_limits(tmp_path, Settings().max_concurrent_runs) == (
        13,
        {tags.ORG_ID: RUNS_PER_ORGANIZATION},
    )


def test_a_limit_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLIAI_MAX_CONCURRENT_RUNS", "0")
    with pytest.raises(ValueError, match="max_concurrent_runs"):
        Settings()


def test_the_default_follows_the_cores_the_process_may_use() -> None:
    """As in a container whose cpuset is one core (or under `taskset -c 0`)."""
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from core.settings import Settings; print(Settings().max_concurrent_runs)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OLIAI_MAX_CONCURRENT_RUNS"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2"
