"""The warehouse's invariants, checked after each import on the organization it wrote: what the
Dagster UI shows green or red beside each table."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Check:
    table: str
    name: str
    description: str
    # Counts the organization's rows that break the rule ($org_id).
    violations: str


CHECKS = [
    Check(
        "contacts",
        "one_row_per_phone",
        "Each organization holds one contact per E.164 phone number.",
        """SELECT count(*) FROM (
               SELECT phone_number FROM contacts WHERE org_id = $org_id
               GROUP BY phone_number HAVING count(*) > 1)""",
    ),
    Check(
        "audience_members",
        "members_are_contacts",
        "Every audience member is a contact of the organization, once per audience.",
        """SELECT (SELECT count(*) FROM audience_members m WHERE m.org_id = $org_id
                   AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.org_id = m.org_id
                                   AND c.phone_number = m.phone_number))
                + (SELECT count(*) FROM (
                   SELECT audience_id, phone_number FROM audience_members
                   WHERE org_id = $org_id GROUP BY ALL HAVING count(*) > 1))""",
    ),
    Check(
        "imports",
        "counts_add_up",
        "Each import's created + updated + failed + skipped equals its total, and it has one row.",
        """SELECT (SELECT count(*) FROM imports WHERE org_id = $org_id
                   AND created + updated + failed + coalesce(skipped, 0) <> total)
                + (SELECT count(*) FROM (SELECT import_id FROM imports WHERE org_id = $org_id
                   GROUP BY import_id HAVING count(*) > 1))""",
    ),
]


def violations(con: duckdb.DuckDBPyConnection, org_id: str) -> dict[Check, int]:
    """Every check's count of offending rows, in one query."""
    query = "SELECT " + ", ".join(f"({check.violations})" for check in CHECKS)
    (counts,) = con.execute(query, {"org_id": org_id}).fetchall()
    return {check: int(count) for check, count in zip(CHECKS, counts, strict=True)}
