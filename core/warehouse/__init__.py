"""The warehouse on DuckLake: its schema, the write of one import, and read-only SQL; below
the code location and the CLI, so the API may read it too."""
