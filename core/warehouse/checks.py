"""The warehouse's invariants, checked after each import on the organization it wrote (what the
Dagster UI shows green or red beside each table), read in one query with each table's row count.

Each table is read once: in a DuckLake on PostgreSQL every reference to a table costs its own
catalog reads (~5-10 ms: its files, delete files and statistics), more than the checks' own work
at 100k contacts, so counting and checking separately read each table two or three times.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    description: str
    # An aggregate over the table's rows (as `t`): how many of the organization's ($org_id) rows
    # break the rule. Extra rows count one each: a key held by three rows is two violations.
    violations: str


# Of the organization's rows only; `count(*) - count(DISTINCT key)` counts the extra rows.
CHECKS = [
    Check(
        "contacts",
        "one_row_per_phone",
        "Each organization holds one contact per E.164 phone number.",
        """count(*) FILTER (WHERE t.org_id = $org_id)
           - count(DISTINCT t.phone_number) FILTER (WHERE t.org_id = $org_id)""",
    ),
    Check(
        "audience_members",
        "members_are_contacts",
        "Every audience member is a contact of the organization, once per audience.",
        """count(*) FILTER (WHERE t.org_id = $org_id AND NOT EXISTS (
               SELECT 1 FROM contacts c
               WHERE c.org_id = $org_id AND c.phone_number = t.phone_number))
           + count(*) FILTER (WHERE t.org_id = $org_id)
           - count(DISTINCT (t.audience_id, t.phone_number)) FILTER (WHERE t.org_id = $org_id)""",
    ),
    Check(
        "imports",
        "counts_add_up",
        "Each import's created + updated + failed + skipped equals its total, and it has one row.",
        """count(*) FILTER (WHERE t.org_id = $org_id
               AND t.created + t.updated + t.failed + coalesce(t.skipped, 0) <> t.total)
           + count(*) FILTER (WHERE t.org_id = $org_id)
           - count(DISTINCT t.import_id) FILTER (WHERE t.org_id = $org_id)""",
    ),
]


@dataclass(frozen=True)
class TableFacts:
    row_counts: dict[str, int]  # every table's rows, all organizations
    violations: dict[Check, int]  # the organization's offending rows, per check


def table_facts(con: duckdb.DuckDBPyConnection, tables: Iterable[str], org_id: str) -> TableFacts:
    """The tables' row counts and every check's count for the organization, in one query that
    reads each table once (the checks' tables must be among `tables`)."""
    checks_of = {table: [c for c in CHECKS if c.table == table] for table in tables}
    columns = [
        f"(SELECT [{', '.join(['count(*)', *(c.violations for c in checks)])}] FROM {table} t)"
        for table, checks in checks_of.items()
    ]
    (row,) = con.execute("SELECT " + ", ".join(columns), {"org_id": org_id}).fetchall()
    facts = TableFacts(row_counts={}, violations={})
    for (table, checks), (count, *broken) in zip(checks_of.items(), row, strict=True):
        facts.row_counts[table] = int(count)
        facts.violations.update(zip(checks, map(int, broken), strict=True))
    return facts
