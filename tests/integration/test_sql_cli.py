"""`oliai sql` as docs/warehouse.md describes it: read-only on one lake snapshot, exit 0 with
rows, 1 for no warehouse or a SQL error (writes and files outside the lake included).

The lake is real (its catalog a database on the session's PostgreSQL server, or the data
directory's private server), made with the warehouse's own schema; the command runs as a
subprocess, as an analyst runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core import private_postgres
from core.settings import Settings
from core.warehouse.writer import open_warehouse
from tests.lake import location, reading
from tests.stack import OLIAI

pytestmark = pytest.mark.integration

ORG = "sql-cli"
CONTACT = {
    "org_id": ORG,
    "phone_number": "+919876543210",
    "name": "Priya Sharma",
    "language": "hi-IN",
}
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
INSERT = (
    "INSERT INTO contacts (org_id, phone_number, name, language, metadata, created_at, "
    "updated_at, created_import_id, updated_import_id) "
    "VALUES (?, ?, ?, ?, '{\"city\":\"Mumbai\"}', ?, ?, 'imp_1', 'imp_1')"
)


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
def settings(lake_settings: Settings) -> Settings:
    """A lake with the real schema and one contact."""
    with open_warehouse(location(lake_settings)) as con:
        con.execute(INSERT, [*CONTACT.values(), NOW, NOW])
    return lake_settings


def run_sql(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    assert settings.postgres_url is not None
    return oliai_sql(settings.resolved_data_dir, *args, OLIAI_POSTGRES_URL=settings.postgres_url)


def dump(settings: Settings) -> dict[str, list[Any]]:
    with reading(settings) as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        return {table: con.execute(f"SELECT * FROM {table}").fetchall() for table in tables}


def test_a_select_prints_json_rows_and_exits_0(settings: Settings) -> None:
    result = run_sql(
        settings, "SELECT org_id, phone_number, name, language FROM contacts", "--json"
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == [CONTACT]


def test_with_the_stack_down_the_private_server_is_started_for_the_query_and_stopped(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    with private_postgres.serving(settings.postgres_dir) as url:
        private = settings.model_copy(update={"postgres_url": url})
        with open_warehouse(location(private)) as con:
            con.execute(INSERT, [*CONTACT.values(), NOW, NOW])
    assert private_postgres.PrivatePostgres(settings.postgres_dir).running_url() is None

    clean = {key: value for key, value in os.environ.items() if not key.startswith("OLIAI_")}
    result = subprocess.run(
        [OLIAI, "sql", "SELECT count(*) AS n FROM contacts", "--json"],
        env={**clean, "OLIAI_DATA_DIR": str(data_dir)},  # the data directory from the variable
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert (result.returncode, result.stderr, json.loads(result.stdout)) == (0, "", [{"n": 1}])
    assert private_postgres.PrivatePostgres(settings.postgres_dir).running_url() is None


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
    settings: Settings, statement: str, kind: str
) -> None:
    before = dump(settings)
    result = run_sql(settings, statement)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("Query failed: ")
    assert f'Cannot execute statement of type "{kind}"' in result.stderr
    assert "read-only mode" in result.stderr
    assert dump(settings) == before


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH '{outside}' AS other",
        "COPY contacts TO '{outside}'",
        "SELECT * FROM read_csv('{outside}')",
        "SET enable_external_access = true",
    ],
)
def test_nothing_outside_the_lake_is_reachable(
    settings: Settings, tmp_path: Path, statement: str
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    result = run_sql(settings, statement.format(outside=outside))
    assert result.returncode == 1
    assert result.stderr.startswith("Query failed: ")
    assert outside.read_text() == "a\n1\n"


def test_a_sql_error_exits_1(settings: Settings) -> None:
    result = run_sql(settings, "SELEC 1")
    assert result.returncode == 1
    assert result.stderr.startswith("Query failed: Parser Error: syntax error")


def test_no_warehouse_yet_exits_1(lake_settings: Settings) -> None:
    result = run_sql(lake_settings, "SELECT 1")
    assert result.returncode == 1
    assert result.stderr == (
        "The warehouse has no tables yet: start the stack or import something.\n"
    )


def test_print_attach_gives_lines_a_plain_duckdb_runs_to_read_the_lake(
    settings: Settings,
) -> None:
    result = run_sql(settings, "--print-attach")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["LOAD", "LOAD", "ATTACH", "USE"]
    assert lines[2].endswith("READ_ONLY);")
    # What a notebook does with them: a plain DuckDB, nothing of this project imported.
    notebook = (
        "import duckdb, sys\n"
        "con = duckdb.connect(config={'allow_unsigned_extensions': True})\n"
        "for line in sys.stdin.read().splitlines(): con.execute(line)\n"
        "print(con.execute('SELECT name FROM contacts').fetchall())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", notebook],
        input=result.stdout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )
    assert (run.returncode, run.stdout) == (0, "[('Priya Sharma',)]\n"), run.stderr


def test_print_attach_without_a_server_says_how_to_get_one(tmp_path: Path) -> None:
    result = oliai_sql(tmp_path / "data", "--print-attach")
    assert result.returncode == 1
    assert "the private one under" in result.stderr
    assert "Start the stack (`make up`)" in result.stderr


def test_the_duckdb_cli_reads_the_lake_with_the_printed_lines(
    settings: Settings, tmp_path: Path
) -> None:
    attach = tmp_path / "attach.sql"
    attach.write_text(run_sql(settings, "--print-attach").stdout)
    duckdb_cli = Path(sys.executable).with_name("duckdb")
    result = subprocess.run(
        [
            str(duckdb_cli),
            "-unsigned",
            "-init",
            str(attach),
            "-csv",
            "-c",
            "SELECT name FROM contacts",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "name\nPriya Sharma\n"), result.stderr
