"""The Python client of the imports API: `ImportsClient` and its async twin, the batch runner
behind `oliai import`, and the contact file readers. Imports neither Dagster, Litestar, SQLAlchemy
nor DuckDB, so an API user installs only what talking HTTP needs."""
