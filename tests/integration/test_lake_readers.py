"""Readers never block imports, nor imports readers: an analyst's connection held open in a
transaction (a notebook) while imports commit, and `oliai sql` while an import's write is open.

The lake is real (its catalog a database on the session's PostgreSQL server); the analyst is
another process, the imports run the real job in process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from core.settings import Settings
from core.warehouse.migration import prepare_warehouse
from orchestration.resources import Warehouse
from tests.lake import location, run_import, warehouse_fields
from tests.stack import OLIAI

pytestmark = pytest.mark.integration

ORG = "org_acme"
# An analyst's session: one transaction held open across imports, then a fresh one.
ANALYST = """
import sys
from core.warehouse import lake
from core.warehouse.lake import LakeLocation
con = lake.connect(LakeLocation(sys.argv[1], sys.argv[2]), read_only=True)
count = "SELECT count(*) FROM contacts"
con.begin()
print(con.execute(count).fetchall()[0][0], flush=True)
for line in sys.stdin:
    if line == "again\\n":
        print(con.execute(count).fetchall()[0][0], flush=True)
    elif line == "fresh\\n":
        con.commit()
        print(con.execute(count).fetchall()[0][0], flush=True)
        break
"""


@pytest.fixture
def settings(lake_settings: Settings) -> Settings:
    prepare_warehouse(location(lake_settings), lake_settings.legacy_warehouse_path)
    return lake_settings


@pytest.fixture
def analyst(settings: Settings) -> Iterator[subprocess.Popen[str]]:
    target = location(settings)
    with subprocess.Popen(
        [sys.executable, "-c", ANALYST, target.catalog_url, target.data_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def ann(phone: str) -> dict[str, str]:
    return {"name": "Ann", "phoneNumber": phone}


def ask(analyst: subprocess.Popen[str], line: str) -> int:
    assert analyst.stdin is not None
    assert analyst.stdout is not None
    analyst.stdin.write(line)
    analyst.stdin.flush()
    return int(analyst.stdout.readline())


def test_imports_commit_while_an_analyst_holds_a_transaction_open(
    settings: Settings, analyst: subprocess.Popen[str]
) -> None:
    assert analyst.stdout is not None
    assert int(analyst.stdout.readline()) == 0  # the analyst's snapshot: before any import
    with DagsterInstance.ephemeral() as instance:
        results = [
            run_import(settings, instance, f"imp_{n}", ORG, [ann(f"+1415555010{n}")])
            for n in range(3)
        ]
    assert [result.success for result in results] == [True, True, True]
    assert ask(analyst, "again\n") == 0  # still the snapshot it began with
    assert ask(analyst, "fresh\n") == 3  # a new transaction sees every import
    assert analyst.wait(timeout=30) == 0


def test_oliai_sql_answers_while_an_import_holds_its_write_open(settings: Settings) -> None:
    writing = threading.Event()
    release = threading.Event()
    answers: list[subprocess.CompletedProcess[str]] = []

    class PausedWarehouse(Warehouse):
        """Holds the write open, every row written, until the test has queried."""

        def before_commit(self, con: duckdb.DuckDBPyConnection) -> None:
            writing.set()
            assert release.wait(timeout=120), "the test never released the write"

    def analyst() -> None:
        assert writing.wait(timeout=120)
        clean = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
        data = str(settings.resolved_data_dir)
        answers.append(
            subprocess.run(
                [OLIAI, "sql", "SELECT count(*) AS n FROM contacts", "--json", "--data-dir", data],
                env={**clean, "OLIAI_POSTGRES_URL": settings.postgres_url or ""},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        )
        release.set()

    querying = threading.Thread(target=analyst)
    querying.start()
    with DagsterInstance.ephemeral() as instance:
        paused = PausedWarehouse(**warehouse_fields(settings))
        result = run_import(
            settings, instance, "imp_held", ORG, [ann("+14155550100")], warehouse=paused
        )
    querying.join(timeout=120)

    assert result.success
    (answer,) = answers
    assert (answer.returncode, answer.stderr, answer.stdout) == (0, "", '[{"n": 0}]\n')
    with DagsterInstance.ephemeral() as instance:
        assert run_import(settings, instance, "imp_after", ORG, [ann("+14155550101")]).success
