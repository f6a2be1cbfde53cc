"""A single-file warehouse of an earlier release (`warehouse.duckdb`, schema versions 1-3) is
moved into the lake once, at start (`core/warehouse/migration.py`): every row, in one
lake transaction that commits whole or leaves the lake as it was, and the old file is kept,
unchanged, as `warehouse.duckdb.migrated`."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings
from core.warehouse.migration import MigrationRefused, migrated_name, prepare_warehouse
from core.warehouse.writer import ImportBatch, apply_import, open_warehouse
from tests.lake import location, reading
from transforms import contacts_frame, normalize_contacts

pytestmark = pytest.mark.integration

ORG = "org_acme"
PRIYA = "+919876543210"
RAVI = "+442079460958"
STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TABLES = ["contacts", "audience_members", "imports", "import_errors"]

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
    "INSERT INTO schema_version VALUES (1)",
]
# Version 3 added a sequence to every stored value (null in rows written before it).
VERSION_3 = [
    "ALTER TABLE contacts ADD COLUMN name_seq BIGINT",
    "ALTER TABLE contacts ADD COLUMN language_seq BIGINT",
    "ALTER TABLE contacts ADD COLUMN metadata_seq JSON",
    "ALTER TABLE contacts ADD COLUMN metadata_base_seq BIGINT",
    "ALTER TABLE contacts ADD COLUMN created_seq BIGINT",
    "ALTER TABLE imports ADD COLUMN sequence BIGINT",
    "UPDATE contacts SET name_seq = 7, metadata_base_seq = 7, created_seq = 7",
    "UPDATE imports SET sequence = 7",
    "UPDATE schema_version SET version = 3",
]


def _write_file(path: Path, statements: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(con: duckdb.DuckDBPyConnection, columns_of: duckdb.DuckDBPyConnection) -> dict:
    """Every table's rows in `con`, in the columns the table has in `columns_of`."""
    rows = {}
    for table in TABLES:
        columns = ", ".join(columns_of.sql(f"SELECT * FROM {table} LIMIT 0").columns)
        rows[table] = sorted(con.sql(f"SELECT {columns} FROM {table}").fetchall())
    return rows


@pytest.fixture
def settings(lake_settings: Settings) -> Settings:
    return lake_settings


@pytest.mark.parametrize("version", [1, 3])
def test_an_old_file_is_moved_in_once_with_every_row(settings: Settings, version: int) -> None:
    legacy = settings.legacy_warehouse_path
    _write_file(legacy, VERSION_1 + (VERSION_3 if version == 3 else []))
    digest = _digest(legacy)
    with duckdb.connect(str(legacy), read_only=True) as old:
        before = _rows(old, old)

    message = prepare_warehouse(location(settings), legacy)

    assert message is not None
    assert "1 contacts, 1 audience_members, 1 imports, 1 import_errors" in message
    assert not legacy.exists()
    assert _digest(migrated_name(legacy)) == digest  # kept, unchanged
    with (
        reading(settings) as con,
        duckdb.connect(str(migrated_name(legacy)), read_only=True) as old,
    ):
        assert _rows(con, old) == before
        sequences = con.sql("SELECT name_seq, created_seq FROM contacts").fetchall()
        assert sequences == ([(7, 7)] if version == 3 else [(None, None)])
        # Filled in as the lake's migration to version 3 does (phonenumbers: mobile, IN).
        facts = con.sql("SELECT phone_type, phone_region FROM contacts").fetchall()
        assert facts == [("mobile", "IN")]
    # A second start finds nothing to move and changes nothing.
    assert prepare_warehouse(location(settings), legacy) is None
    with reading(settings) as con:
        assert con.sql("SELECT count(*) FROM contacts").fetchall() == [(1,)]


def test_imports_then_write_the_moved_rows_as_their_own(settings: Settings) -> None:
    _write_file(settings.legacy_warehouse_path, VERSION_1)
    prepare_warehouse(location(settings), settings.legacy_warehouse_path)
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
        sequence=1,
    )
    with open_warehouse(location(settings)) as con:
        applied = apply_import(con, batch, datetime.now(UTC))
        contacts = con.sql("SELECT phone_number, name, created_import_id FROM contacts").fetchall()
        members = con.sql("SELECT phone_number, import_id FROM audience_members").fetchall()
    assert (applied.counts.created, applied.counts.updated) == (1, 1)
    assert sorted(contacts) == [(RAVI, "Ravi", "imp_new"), (PRIYA, "Priya S.", "imp_old")]
    assert sorted(members) == [(RAVI, "imp_new"), (PRIYA, "imp_old")]


def test_a_move_that_fails_leaves_the_lake_empty_and_the_file_untouched(
    settings: Settings,
) -> None:
    legacy = settings.legacy_warehouse_path
    # A second contact without a name: the lake's NOT NULL refuses it, mid-move.
    broken = [s.replace("name VARCHAR NOT NULL", "name VARCHAR") for s in VERSION_1] + [
        f"""INSERT INTO contacts VALUES ('{ORG}', '{RAVI}', NULL, NULL, '{{}}',
            '{STAMP}', '{STAMP}', 'imp_old', 'imp_old')"""
    ]
    _write_file(legacy, broken)
    digest = _digest(legacy)

    with pytest.raises(duckdb.ConstraintException):
        prepare_warehouse(location(settings), legacy)

    assert _digest(legacy) == digest
    assert not migrated_name(legacy).exists()
    with reading(settings) as con:
        for table in [*TABLES, "legacy_migrations"]:
            assert con.sql(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table


def test_a_crash_between_the_commit_and_the_rename_is_finished_at_the_next_start(
    settings: Settings, tmp_path: Path
) -> None:
    legacy = settings.legacy_warehouse_path
    _write_file(legacy, VERSION_1)
    copy = tmp_path / "copy.duckdb"
    shutil.copy(legacy, copy)
    prepare_warehouse(location(settings), legacy)
    shutil.copy(copy, legacy)  # as if the process died right after the lake's commit

    assert prepare_warehouse(location(settings), legacy) is None

    assert not legacy.exists()
    assert migrated_name(legacy).exists()
    with reading(settings) as con:
        assert con.sql("SELECT count(*) FROM contacts").fetchall() == [(1,)]


def test_an_old_file_beside_a_lake_with_imports_is_refused(settings: Settings) -> None:
    first = settings.legacy_warehouse_path
    _write_file(first, VERSION_1)
    prepare_warehouse(location(settings), first)
    second = first.with_name("other.duckdb")
    _write_file(second, VERSION_1)
    digest = _digest(second)

    with pytest.raises(MigrationRefused, match="already holds imports"):
        prepare_warehouse(location(settings), second)

    assert _digest(second) == digest
    with reading(settings) as con:
        assert con.sql("SELECT count(*) FROM imports").fetchall() == [(1,)]
