"""`oliai sql` as docs/warehouse.md describes it: read-only, exit 0 with rows, 1 for no warehouse or
a SQL error (writes included), 2 when a writer keeps the file locked for `--wait` seconds.

The warehouse is a real DuckDB file made with the warehouse's own schema; the command runs as a
subprocess, as an analyst runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.warehouse.writer import open_warehouse
from tests.stack import OLIAI

pytestmark = pytest.mark.integration

ORG = "sql-cli"
CONTACT = {
    "org_id": ORG,
    "phone_number": "+919876543210",
    "name": "Priya Sharma",
    "language": "hi-IN",
}


def oliai_sql(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
    return subprocess.run(
        [OLIAI, "sql", *args, "--data-dir", str(data_dir)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def warehouse(data_dir: Path) -> Path:
    """A warehouse with the real schema and one contact; closed before the test runs."""
    path = data_dir / "warehouse.duckdb"
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    with open_warehouse(path) as con:
        con.execute(
            "INSERT INTO contacts (org_id, phone_number, name, language, metadata, created_at, "
            "updated_at, created_import_id, updated_import_id) "
            "VALUES (?, ?, ?, ?, '{\"city\":\"Mumbai\"}', ?, ?, 'imp_1', 'imp_1')",
            [*CONTACT.values(), now, now],
        )
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(path: Path) -> dict[str, list[Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        return {table: con.execute(f"SELECT * FROM {table}").fetchall() for table in tables}


def test_a_select_prints_json_rows_and_exits_0(data_dir: Path, warehouse: Path) -> None:
    result = oliai_sql(
        data_dir,
        "SELECT org_id, phone_number, name, language FROM contacts",
        "--json",
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [CONTACT]


def test_the_data_directory_comes_from_oliai_data_dir(data_dir: Path, warehouse: Path) -> None:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
    result = subprocess.run(
        [OLIAI, "sql", "SELECT count(*) AS n FROM contacts", "--json"],
        env={**clean, "OLIAI_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, json.loads(result.stdout)) == (0, [{"n": 1}])


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        (
            "INSERT INTO contacts SELECT * REPLACE ('+14155552671' AS phone_number) FROM contacts",
            "INSERT",
        ),
        ("UPDATE contacts SET name = 'Mallory'", "UPDATE"),
        ("DELETE FROM contacts", "DELETE"),
        ("TRUNCATE contacts", "DELETE"),
        ("DROP TABLE contacts", "DROP"),
        ("CREATE TABLE stolen AS SELECT * FROM contacts", "CREATE"),
        ("CREATE VIEW everyone AS SELECT * FROM contacts", "CREATE"),
        ("ALTER TABLE contacts ADD COLUMN note VARCHAR", "ALTER"),
        ("SELECT 1; DELETE FROM contacts", "DELETE"),  # a write after a read
    ],
)
def test_writes_are_refused_with_exit_1_and_change_nothing(
    data_dir: Path, warehouse: Path, statement: str, kind: str
) -> None:
    before = (digest(warehouse), dump(warehouse))
    result = oliai_sql(data_dir, statement)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("Query failed: ")
    assert f'Cannot execute statement of type "{kind}"' in result.stderr
    assert "read-only mode" in result.stderr
    assert (digest(warehouse), dump(warehouse)) == before


def test_the_warehouse_cannot_be_attached_again_for_writing(
    data_dir: Path, warehouse: Path
) -> None:
    before = digest(warehouse)
    result = oliai_sql(
        data_dir,
        f"ATTACH '{warehouse}' AS rw (READ_WRITE); DELETE FROM rw.contacts",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Query failed: ")
    assert digest(warehouse) == before
    assert dump(warehouse)["contacts"][0][:4] == tuple(CONTACT.values())


def test_a_sql_error_exits_1(data_dir: Path, warehouse: Path) -> None:
    result = oliai_sql(data_dir, "SELEC 1")
    assert result.returncode == 1
    assert result.stderr.startswith("Query failed: Parser Error: syntax error")


def test_no_warehouse_yet_exits_1(data_dir: Path) -> None:
    result = oliai_sql(data_dir, "SELECT 1")
    assert result.returncode == 1
    assert result.stderr == (
        f"No warehouse yet at {data_dir / 'warehouse.duckdb'}: import something first.\n"
    )
    assert not (data_dir / "warehouse.duckdb").exists()


def test_a_writer_holding_the_file_past_wait_exits_2(data_dir: Path, warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as writer:  # what an import's warehouse step holds
        writer.execute("SELECT 1")
        started = time.monotonic()
        result = oliai_sql(data_dir, "SELECT count(*) FROM contacts", "--wait", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "The warehouse is busy (an import is writing) and stayed locked for 1 s; "
        "retry in a moment.\n"
    )
    assert elapsed >= 1.0


def test_a_writer_that_lets_go_within_wait_is_waited_for(data_dir: Path, warehouse: Path) -> None:
    writer = duckdb.connect(str(warehouse))
    released = threading.Timer(3.0, writer.close)
    released.start()
    try:
        started = time.monotonic()
        result = oliai_sql(data_dir, "SELECT count(*) AS n FROM contacts", "--json", "--wait", "60")
        elapsed = time.monotonic() - started
    finally:
        released.join()
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [{"n": 1}]
    assert elapsed >= 3.0
