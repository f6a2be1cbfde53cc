"""Per-import files written by runs: normalized contacts and row errors.

The API reads the errors file directly, so it never has to open the DuckDB warehouse.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from core.files import replace_atomically


def import_dir(staging_dir: Path, import_id: str) -> Path:
    return staging_dir / import_id


def valid_contacts_path(staging_dir: Path, import_id: str) -> Path:
    return import_dir(staging_dir, import_id) / "valid.parquet"


def row_errors_path(staging_dir: Path, import_id: str) -> Path:
    return import_dir(staging_dir, import_id) / "errors.parquet"


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """Atomic, so a concurrent reader never sees half a parquet file; not fsynced (see there)."""
    replace_atomically(path, frame.write_parquet, durable=False)
