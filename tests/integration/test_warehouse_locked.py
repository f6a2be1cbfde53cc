"""While the single-file warehouse admits one writer or readers (until the lake), an import that
cannot get the file fails loudly: the run's failure names the cause and the way out, and nothing
is written. Here another process holds the file open, as an analyst's notebook would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from dagster import DagsterInstance

from core.contracts import IMPORT_JOB, tags
from core.landing import land_request
from core.settings import Settings
from orchestration.definitions import build_definitions
from orchestration.warehouse.writer import open_warehouse

pytestmark = pytest.mark.integration

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def analyst(tmp_path: Path) -> Iterator[tuple[Settings, subprocess.Popen[str]]]:
    settings = Settings(data_dir=tmp_path / "data", warehouse_lock_wait_seconds=1.0)
    with open_warehouse(settings.warehouse_path):
        pass  # a warehouse file with its schema, as after earlier imports
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        yield settings, holder
    finally:
        if holder.poll() is None:
            holder.communicate(timeout=30)  # closing stdin lets it exit


def test_a_held_warehouse_fails_the_import_with_the_cause_and_the_way_out(
    analyst: tuple[Settings, subprocess.Popen[str]],
) -> None:
    settings, holder = analyst
    body = {"contacts": [{"name": "Ann", "phoneNumber": "+14155550100"}]}
    path = land_request(settings.landing_dir, "org_acme", "imp_locked", orjson.dumps(body))
    with DagsterInstance.ephemeral() as instance:
        result = (
            build_definitions(settings)
            .resolve_job_def(IMPORT_JOB)
            .execute_in_process(
                run_config={
                    "import_id": "imp_locked",
                    "org_id": "org_acme",
                    "landing_path": str(path),
                },
                instance=instance,
                tags={tags.IMPORT_ID: "imp_locked", tags.ORG_ID: "org_acme"},
                raise_on_error=False,
            )
        )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "imp_locked: the warehouse file stayed locked by another process for 1 s" in message
    assert "Close it, then `oliai reexecute --failed`." in message
    holder.communicate(timeout=30)  # the analyst leaves: nothing was written
    with open_warehouse(settings.warehouse_path) as con:
        assert con.execute("SELECT count(*) FROM contacts").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM imports").fetchall() == [(0,)]
