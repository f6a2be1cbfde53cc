"""A run's stdout and stderr reach the files the Dagster UI shows, with no helper process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml
from dagster._core.storage.compute_log_manager import ComputeLogManager
from dagster._serdes import ConfigurableClassData

from orchestration.runtime.compute_logs import FileComputeLogManager
from orchestration.runtime.instance import InstanceDatabase, instance_config


def test_a_steps_output_and_its_childrens_land_in_the_files_without_helper_processes(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    manager = FileComputeLogManager(str(tmp_path / "storage"))
    key = ["run_1", "compute_logs", "import_batch"]
    me = psutil.Process()
    # Helpers would be this process's own children (Dagster's manager starts `tail -F` and a
    # watcher with subprocess). Not its grandchildren: the session's PostgreSQL server, a child
    # already, forks backends and autovacuum workers at any time.
    before = {child.pid for child in me.children()}
    with capfd.disabled():  # the process's real stdout and stderr, as in a run worker
        with manager.capture_logs(key):
            helpers = [c for c in me.children() if c.pid not in before]
            print("from the step", flush=True)
            print("a warning", file=sys.stderr, flush=True)
            subprocess.run(["sh", "-c", "echo from a child process"], check=True)
        print("after the capture", flush=True)

    assert helpers == []
    logs = manager.get_log_data(key)
    assert logs.stdout is not None
    assert logs.stderr is not None
    assert logs.stdout.decode().splitlines() == ["from the step", "from a child process"]
    assert logs.stderr.decode().splitlines() == ["a warning"]
    assert manager.is_capture_complete(key)


def test_the_instance_config_makes_dagster_load_this_manager(tmp_path: Path) -> None:
    """What dagster.yaml names is what Dagster builds (as every process loading the instance
    does), at the base directory of Dagster's own manager."""
    database = InstanceDatabase("postgresql://oliai@127.0.0.1:5432/oliai", None)
    configured = instance_config(database, tmp_path, max_concurrent_runs=4)["compute_logs"]
    assert isinstance(configured, dict)
    manager = ConfigurableClassData(
        configured["module"], configured["class"], yaml.safe_dump(configured["config"])
    ).rehydrate(as_type=ComputeLogManager)
    assert type(manager) is FileComputeLogManager
    assert manager.get_captured_local_path(["run", "key"], "out").startswith(
        str(tmp_path / "storage")
    )
