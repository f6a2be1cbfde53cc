"""Opening a warehouse file written by an older version migrates it in place, keeping its rows
(`orchestration/warehouse/writer.py`:
version 2 dropped the primary keys of contacts and memberships)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.warehouse.writer import SCHEMA_VERSION, ImportBatch, apply_import, open_warehouse
from transforms import contacts_frame, normalize_contacts

pytestmark = pytest.mark.integration

ORG = "org_acme"
PRIYA = "+919876543210"
RAVI = "+442079460958"
STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# Version 1 as shipped, with one row in each table.
VERSION_1 = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE contacts (
        org_id VARCHAR NOT NULL, phone_number VARCHAR NOT NULL, name VARCHAR NOT NULL,
        language VARCHAR, metadata JSON NOT NULL, created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL, created_import_id VARCHAR NOT NULL,
        updated_import_id VARCHAR NOT NULL, PRIMARY KEY (org_id, phone_number))""",
    """CREATE TABLE audience_members (
        org_id VARCHAR NOT NULL, audience_id VARCHAR NOT NULL, phone_number VARCHAR NOT NULL,
        added_at TIMESTAMPTZ NOT NULL, import_id VARCHAR NOT NULL,
        PRIMARY KEY (org_id, audience_id, phone_number))""",
    """CREATE TABLE imports (
        import_id VARCHAR PRIMARY KEY, org_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL, total INTEGER NOT NULL, created INTEGER NOT NULL,
        updated INTEGER NOT NULL, failed INTEGER NOT NULL, error_count INTEGER NOT NULL,
        audience_id VARCHAR, completed_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE import_errors (
        import_id VARCHAR NOT NULL, org_id VARCHAR NOT NULL, row_index INTEGER NOT NULL,
        field VARCHAR NOT NULL, code VARCHAR NOT NULL, message VARCHAR NOT NULL, value VARCHAR)""",
    "CREATE INDEX import_errors_import ON import_errors (import_id)",
    f"""INSERT INTO contacts VALUES ('{ORG}', '{PRIYA}', 'Priya', 'hi-IN', '{{"tier":"gold"}}',
        '{STAMP}', '{STAMP}', 'imp_old', 'imp_old')""",
    f"INSERT INTO audience_members VALUES ('{ORG}', 'aud_vip', '{PRIYA}', '{STAMP}', 'imp_old')",
    f"""INSERT INTO imports VALUES ('imp_old', '{ORG}', 'run_old', 'COMPLETED_WITH_ERRORS',
        2, 1, 0, 1, 1, 'aud_vip', '{STAMP}')""",
    f"""INSERT INTO import_errors VALUES ('imp_old', '{ORG}', 1, 'phoneNumber', 'missing_plus',
        'Add the country code', '9198')""",
]
TABLES = ["contacts", "audience_members", "imports", "import_errors"]


def _version_1_file(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        for statement in VERSION_1:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1)")


# Version 3 added a sequence to every stored value (null in rows written before it).
ADDED_IN_3 = {
    "contacts": ["name_seq", "language_seq", "metadata_seq", "metadata_base_seq", "created_seq"],
    "imports": ["sequence"],
}


def _rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, in the columns every version had."""
    rows = {}
    for table in TABLES:
        columns = [
            column
            for column in con.sql(f"SELECT * FROM {table} LIMIT 0").columns
            if column not in ADDED_IN_3.get(table, [])
        ]
        rows[table] = sorted(con.sql(f"SELECT {', '.join(columns)} FROM {table}").fetchall())
    return rows


def _version_2_file(path: Path) -> None:
    """Version 2: version 1 without the primary keys of contacts and audience_members."""
    with duckdb.connect(str(path)) as con:
        for statement in VERSION_1:
            con.execute(
                statement.replace(", PRIMARY KEY (org_id, phone_number)", "").replace(
                    ",\n        PRIMARY KEY (org_id, audience_id, phone_number)", ""
                )
            )
        con.execute("INSERT INTO schema_version VALUES (2)")


def _assert_added_columns_are_null(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in ADDED_IN_3.items():
        nulls = " AND ".join(f"{column} IS NULL" for column in columns)
        assert con.sql(f"SELECT count(*) FROM {table} WHERE NOT ({nulls})").fetchall() == [(0,)]


def _primary_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    keys = con.sql(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    return sorted(table for (table,) in keys)


def test_a_version_1_file_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    _version_1_file(path)
    with duckdb.connect(str(path), read_only=True) as con:
        before = _rows(con)
        assert _primary_keys(con) == ["audience_members", "contacts", "imports"]

    with open_warehouse(path) as con:
        assert con.sql("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert _rows(con) == before
        _assert_added_columns_are_null(con)
        assert _primary_keys(con) == ["imports"]
        tables = con.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        assert [name for (name,) in tables] == sorted([*TABLES, "schema_version"])
        with pytest.raises(duckdb.ConstraintException):  # NOT NULL survived the rebuild
            con.execute(f"INSERT INTO contacts (org_id, phone_number) VALUES ('{ORG}', '+1')")

    # Imports then write the migrated file as they write a new one: one row per phone.
    normalized = normalize_contacts(
        contacts_frame(
            [{"name": "Priya S.", "phoneNumber": PRIYA}, {"name": "Ravi", "phoneNumber": RAVI}]
        )
    )
    batch = ImportBatch(
        import_id="imp_new",
        org_id=ORG,
        run_id="run_new",
        audience_id="aud_vip",
        valid=normalized.valid,
        errors=normalized.errors,
        total=normalized.total,
        failed=normalized.failed,
    )
    with open_warehouse(path) as con:
        counts = apply_import(con, batch, datetime.now(UTC))
        contacts = con.sql("SELECT phone_number, name FROM contacts ORDER BY 1").fetchall()
        members = con.sql(
            "SELECT phone_number, import_id FROM audience_members ORDER BY 1"
        ).fetchall()
    assert (counts.created, counts.updated) == (1, 1)
    assert contacts == [(RAVI, "Ravi"), (PRIYA, "Priya S.")]
    assert members == [(RAVI, "imp_new"), (PRIYA, "imp_old")]


def test_a_version_1_file_without_its_version_row_is_migrated_too(tmp_path: Path) -> None:
    """Version 1 wrote the row after creating the tables; a crash between left none."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        for statement in VERSION_1:
            con.execute(statement)
    with open_warehouse(path) as con:
        assert con.sql("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert _primary_keys(con) == ["imports"]
        assert con.sql("SELECT count(*) FROM contacts").fetchall() == [(1,)]


def test_a_version_2_file_gets_the_sequence_columns_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    _version_2_file(path)
    with duckdb.connect(str(path), read_only=True) as con:
        before = _rows(con)
        assert _primary_keys(con) == ["imports"]
    with open_warehouse(path) as con:
        assert con.sql("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert _rows(con) == before
        _assert_added_columns_are_null(con)
