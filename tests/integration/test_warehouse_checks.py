"""Each asset check counts the organization's rows that break its rule, on a real lake, read in
the one query that also counts every table's rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import pytest

from core.settings import Settings
from core.warehouse.checks import CHECKS, TableFacts, table_facts
from core.warehouse.writer import open_warehouse
from orchestration.assets import WAREHOUSE_TABLES
from tests.lake import location

ORG, OTHER = "org_checked", "org_other"
NOW = datetime(2026, 12, 4, tzinfo=UTC)


def contact(con: duckdb.DuckDBPyConnection, org: str, phone: str) -> None:
    con.execute(
        "INSERT INTO contacts (org_id, phone_number, name, metadata, created_at, updated_at, "
        "created_import_id, updated_import_id) VALUES (?, ?, 'A', '{}', ?, ?, 'imp_1', 'imp_1')",
        [org, phone, NOW, NOW],
    )


def member(con: duckdb.DuckDBPyConnection, org: str, audience: str, phone: str) -> None:
    con.execute(
        "INSERT INTO audience_members VALUES (?, ?, ?, ?, 'imp_1')", [org, audience, phone, NOW]
    )


def imported(con: duckdb.DuckDBPyConnection, org: str, import_id: str, created: int) -> None:
    """An import of 3 rows, 1 failed, 1 updated and `created` created."""
    con.execute(
        "INSERT INTO imports (import_id, org_id, run_id, status, total, created, updated, failed, "
        "error_count, completed_at) VALUES (?, ?, 'run', 'COMPLETED', 3, ?, 1, 1, 1, ?)",
        [import_id, org, created, NOW],
    )


def violations_by_name(facts: TableFacts) -> dict[str, int]:
    return {check.name: count for check, count in facts.violations.items()}


@pytest.fixture
def con(lake_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(location(lake_settings)) as connection:
        yield connection


def test_a_healthy_organization_passes_every_check_and_tables_are_counted(
    con: duckdb.DuckDBPyConnection,
) -> None:
    contact(con, ORG, "+441234")
    contact(con, OTHER, "+441234")  # the same phone in another organization is no duplicate
    member(con, ORG, "aud_1", "+441234")
    member(con, ORG, "aud_2", "+441234")  # one contact in two audiences
    imported(con, ORG, "imp_1", created=1)

    facts = table_facts(con, WAREHOUSE_TABLES, ORG)

    assert violations_by_name(facts) == dict.fromkeys((c.name for c in CHECKS), 0)
    assert facts.row_counts == {
        "contacts": 2,
        "audience_members": 2,
        "import_errors": 0,
        "imports": 1,
    }


def test_each_broken_rule_counts_its_extra_or_offending_rows(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for _ in range(3):  # one phone held by three rows: two too many
        contact(con, ORG, "+441234")
    member(con, ORG, "aud_1", "+449999")  # not a contact
    member(con, ORG, "aud_1", "+441234")
    member(con, ORG, "aud_1", "+441234")  # twice in one audience
    imported(con, ORG, "imp_1", created=1)
    imported(con, ORG, "imp_1", created=1)  # the import's second row
    imported(con, ORG, "imp_2", created=5)  # 5 + 1 + 1 is not 3
    # Another organization's broken rows are its own runs' business.
    contact(con, OTHER, "+440000")
    contact(con, OTHER, "+440000")
    imported(con, OTHER, "imp_3", created=9)

    facts = table_facts(con, WAREHOUSE_TABLES, ORG)

    assert violations_by_name(facts) == {
        "one_row_per_phone": 2,
        "members_are_contacts": 2,
        "counts_add_up": 2,
    }
    assert violations_by_name(table_facts(con, WAREHOUSE_TABLES, OTHER)) == {
        "one_row_per_phone": 1,
        "members_are_contacts": 0,
        "counts_add_up": 1,
    }
    assert facts.row_counts["contacts"] == 5
