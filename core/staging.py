"""Per-import files written by runs: normalized contacts and row errors.

The API reads the errors file directly, so it never has to open the DuckDB warehouse.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl


def import_dir(staging_dir: Path, import_id: str) -> Path:
    return staging_dir / import_id


def valid_contacts_path(staging_dir: Path, import_id: str) -> Path:
    return import_dir(staging_dir, import_id) / "valid.parquet"


def row_errors_path(staging_dir: Path, import_id: str) -> Path:
    return import_dir(staging_dir, import_id) / "errors.parquet"


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """Atomic replace, so a concurrent reader never sees half a parquet file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)
