"""The DuckDB warehouse: its schema, the write of one import, and read-only SQL for analysts."""
