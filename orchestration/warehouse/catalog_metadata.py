"""What the Dagster catalog shows of each warehouse table: its columns and its row count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
from dagster import TableColumn, TableColumnConstraints, TableSchema


@dataclass(frozen=True)
class TableFacts:
    row_count: int
    column_schema: TableSchema


def describe_tables(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> dict[str, TableFacts]:
    """The tables' row counts (cheap: the lake keeps them in its catalog) and column schemas, in
    two queries (each lake query costs a few catalog round trips)."""
    tables = list(names)
    columns = con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND list_contains(?, table_name) "
        "ORDER BY table_name, ordinal_position",
        [tables],
    ).fetchall()
    counts = con.execute(
        " UNION ALL ".join(f"SELECT '{name}', count(*) FROM {name}" for name in tables)
    ).fetchall()
    row_counts = {name: int(count) for name, count in counts}
    return {
        name: TableFacts(
            row_count=row_counts[name],
            column_schema=TableSchema(
                columns=[
                    TableColumn(
                        column,
                        data_type,
                        constraints=TableColumnConstraints(nullable=nullable == "YES"),
                    )
                    for table, column, data_type, nullable in columns
                    if table == name
                ]
            ),
        )
        for name in tables
    }
