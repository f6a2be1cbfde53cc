"""What the Dagster catalog shows of each warehouse table: its columns, on the asset's definition
(its row count, on every materialization, comes with the checks: `core.warehouse.checks`)."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
from dagster import TableColumn, TableColumnConstraints, TableSchema


def column_schemas(statements: Mapping[str, str]) -> dict[str, TableSchema]:
    """Each table's columns, read off its CREATE statement run in a throwaway in-memory DuckDB:
    the lake's tables are made by the same statements (`writer.TABLES`), and their columns
    change only with the schema version, so no run needs to ask the lake."""
    con = duckdb.connect()
    try:
        for statement in statements.values():
            con.execute(statement)
        columns = con.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'YES' "
            "FROM information_schema.columns ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    return {
        name: TableSchema(
            columns=[
                TableColumn(column, kind, constraints=TableColumnConstraints(nullable=nullable))
                for table, column, kind, nullable in columns
                if table == name
            ]
        )
        for name in statements
    }
