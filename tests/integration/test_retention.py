"""`oliai prune`: which imports lose their landing body and staged rows, on a real Dagster
instance in `tmp_path` with the import job run in process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRunStatus, JobDefinition
from polars.testing import assert_frame_equal

from core import staging
from core.contracts import IMPORT_JOB, tags
from core.landing import land_request, landing_path
from core.settings import Settings
from orchestration.definitions import build_definitions
from orchestration.maintenance.retention import PrunableImport, prunable_imports, prune_imports
from orchestration.runtime.stack import prepare_instance_storage
from tests.stack import OLIAI

pytestmark = pytest.mark.integration

ORG = "org_acme"
DAYS = 7
# A valid row and a failing one, so both staged files have rows.
CONTACTS = [{"name": "Leo", "phoneNumber": "+14155552671"}, {"name": "", "phoneNumber": "12"}]


@dataclass
class DataDir:
    """A data directory with its Dagster instance, fed like the API and the run queue feed it."""

    settings: Settings
    instance: DagsterInstance

    @property
    def job(self) -> JobDefinition:
        return build_definitions(self.settings).resolve_job_def(IMPORT_JOB)

    def land(self, import_id: str) -> Path:
        body = orjson.dumps({"contacts": CONTACTS})
        return land_request(self.settings.landing_dir, ORG, import_id, body)

    def run_config(self, import_id: str) -> dict[str, Any]:
        return {
            "import_id": import_id,
            "org_id": ORG,
            "landing_path": str(landing_path(self.settings.landing_dir, ORG, import_id)),
        }

    def run(self, import_id: str) -> None:
        self.land(import_id)
        result = self.job.execute_in_process(
            run_config=self.run_config(import_id),
            instance=self.instance,
            tags=import_tags(import_id),
            raise_on_error=False,
        )
        assert result.success

    def create_run(self, import_id: str) -> str:
        """A run not started yet (NOT_STARTED), as a launch or a re-execution first creates it."""
        run = self.instance.create_run_for_job(
            self.job, run_config=self.run_config(import_id), tags=import_tags(import_id)
        )
        assert run.status is DagsterRunStatus.NOT_STARTED
        return run.run_id

    def prunable(self, now: datetime) -> list[PrunableImport]:
        return prunable_imports(
            self.instance,
            self.settings.landing_dir,
            self.settings.staging_dir,
            older_than=timedelta(days=DAYS),
            now=now,
        )

    def files(self) -> dict[Path, bytes]:
        roots = [self.settings.landing_dir, self.settings.staging_dir]
        return {
            path: path.read_bytes() for root in roots for path in root.rglob("*") if path.is_file()
        }


def import_tags(import_id: str) -> dict[str, str]:
    return {tags.IMPORT_ID: import_id, tags.ORG_ID: ORG}


@pytest.fixture
def data(lake_settings: Settings) -> Iterator[DataDir]:
    settings = lake_settings
    prepare_instance_storage(settings)
    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        yield DataDir(settings, instance)


def later(days: int = DAYS + 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_finished_import_is_pruned_once_its_run_ended_long_enough_ago(data: DataDir) -> None:
    data.run("imp_done")
    landed = landing_path(data.settings.landing_dir, ORG, "imp_done")
    valid = staging.valid_contacts_path(data.settings.staging_dir, "imp_done")
    errors = staging.row_errors_path(data.settings.staging_dir, "imp_done")
    size = landed.stat().st_size + valid.stat().st_size
    row_errors = pl.read_parquet(errors)
    assert not row_errors.is_empty()

    assert data.prunable(datetime.now(UTC)) == []
    prunable = data.prunable(later())
    assert prunable == [PrunableImport("imp_done", ORG, (landed, valid), size)]

    assert prune_imports(prunable) == size
    assert not landed.exists()
    assert not valid.exists()
    assert_frame_equal(pl.read_parquet(errors), row_errors)
    # Directories stay: removing one could race the API landing a new import into it.
    assert landed.parent.is_dir()
    assert data.prunable(later()) == []


def test_landed_import_without_a_run_is_never_pruned(data: DataDir) -> None:
    data.run("imp_done")
    waiting = data.land("imp_waiting")  # accepted; still in the API's outbox

    prunable = data.prunable(later(days=3650))
    assert [item.import_id for item in prunable] == ["imp_done"]
    prune_imports(prunable)
    assert waiting.exists()


def test_import_whose_newest_run_is_unfinished_keeps_its_files(data: DataDir) -> None:
    data.run("imp_again")
    assert [item.import_id for item in data.prunable(later())] == ["imp_again"]

    data.create_run("imp_again")  # a re-execution, not started yet

    assert data.prunable(later(days=3650)) == []


def test_staged_rows_are_pruned_when_the_landing_file_is_already_gone(data: DataDir) -> None:
    data.run("imp_orphan")
    landing_path(data.settings.landing_dir, ORG, "imp_orphan").unlink()
    valid = staging.valid_contacts_path(data.settings.staging_dir, "imp_orphan")

    prunable = data.prunable(later())
    assert prunable == [PrunableImport("imp_orphan", None, (valid,), valid.stat().st_size)]
    prune_imports(prunable)
    assert not valid.exists()
    assert staging.row_errors_path(data.settings.staging_dir, "imp_orphan").exists()


def oliai_prune(data: DataDir, *args: str) -> str:
    result = subprocess.run(
        [
            OLIAI,
            "prune",
            "--data-dir",
            str(data.settings.data_dir),
            "--older-than-days",
            "1",
            *args,
        ],
        # As an operator of a deployment on an external server runs it.
        env={**os.environ, "OLIAI_POSTGRES_URL": str(data.settings.postgres_url)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_without_the_external_server_url_refuses(data: DataDir) -> None:
    """It would otherwise start a private server of its own and point dagster.yaml at it."""
    before = (data.settings.dagster_home / "dagster.yaml").read_text()
    env = {k: v for k, v in os.environ.items() if k != "OLIAI_POSTGRES_URL"}
    command = [OLIAI, "prune", "--data-dir", str(data.settings.data_dir), "--older-than-days", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "set OLIAI_POSTGRES_URL" in result.stderr
    assert (data.settings.dagster_home / "dagster.yaml").read_text() == before
    assert not data.settings.postgres_dir.exists()


def test_cli_dry_run_deletes_nothing_and_prune_deletes_only_old_imports(data: DataDir) -> None:
    data.run("imp_recent")
    # The CLI judges by the real clock, so this run's end event is recorded ten days back.
    data.land("imp_old")
    data.instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_FAILURE.value, IMPORT_JOB),
        data.create_run("imp_old"),
        timestamp=(datetime.now(UTC) - timedelta(days=10)).timestamp(),
    )
    before = data.files()
    runs = len(data.instance.get_run_records())

    out = oliai_prune(data, "--dry-run")
    assert data.files() == before
    assert "imp_old" in out
    assert "imp_recent" not in out
    assert "Would prune 1 import," in out

    out = oliai_prune(data)
    assert "Pruned 1 import," in out
    assert set(before) - set(data.files()) == {
        landing_path(data.settings.landing_dir, ORG, "imp_old")
    }
    assert len(data.instance.get_run_records()) == runs
