"""A control store of an earlier release, the SQLite file `<data dir>/control.db`, moved into
PostgreSQL once: every row copied in one transaction, then the file renamed `control.db.migrated`
(kept: deleting it is the user's call)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from core.control_store.store import ControlStore
from core.control_store.tables import metadata


class LegacyStoreConflict(Exception):
    pass


def adopt_legacy_store(path: Path, store: ControlStore) -> str | None:
    """Copy the SQLite store at `path` into `store` if the file exists; what was done, or None.

    Refuses (`LegacyStoreConflict`) when `store` already holds rows: merging two stores could
    mix organizations and keys, so the user decides which one wins."""
    if not path.exists():
        return None
    source = sa.create_engine(f"sqlite:///{path}")
    try:
        with source.connect() as src, store.engine.begin() as dst:
            if any(
                dst.scalar(sa.select(sa.func.count()).select_from(t))
                for t in metadata.tables.values()
            ):
                raise LegacyStoreConflict(
                    f"{path} (a control store of an earlier release) was found beside a control "
                    "store in PostgreSQL that already has data. Move the file away to keep the "
                    "PostgreSQL one, or empty schema `control` to migrate the file."
                )
            copied = _copy_rows(src, dst)
    finally:
        source.dispose()
    for suffix in ("-wal", "-shm", ""):
        old = path.with_name(path.name + suffix)
        if old.exists():
            old.rename(old.with_name(old.name + ".migrated"))
    return (
        f"Moved the control store {path} into PostgreSQL (schema control): "
        + (
            ", ".join(f"{copied[name]} {name}" for name in sorted(copied) if copied[name])
            or "empty"
        )
        + f"; the file is kept as {path.name}.migrated."
    )


def _copy_rows(src: sa.Connection, dst: sa.Connection) -> dict[str, int]:
    present = set(sa.inspect(src).get_table_names())
    copied = {}
    for table in metadata.sorted_tables:  # parents before the tables that reference them
        if table.name not in present:
            continue
        # A store older than a column lacks it: copy what it has, defaults fill the rest.
        names = {column["name"] for column in sa.inspect(src).get_columns(table.name)}
        columns = [column for column in table.columns if column.name in names]
        rows = [dict(row) for row in src.execute(sa.select(*columns)).mappings()]
        if rows:
            dst.execute(table.insert(), rows)
        copied[table.name] = len(rows)
    # Ids copied as they were leave the serial's sequence behind them.
    dst.execute(
        sa.text(
            "SELECT setval(pg_get_serial_sequence('webhook_attempts', 'id'), "
            "coalesce(max(id), 0) + 1, false) FROM webhook_attempts"
        )
    )
    return copied
