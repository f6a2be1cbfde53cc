"""Opening the lake: DuckLake tables whose catalog is a PostgreSQL database and whose data are
Parquet files under a data path, read and written from an in-memory DuckDB.

The ducklake and postgres extensions are loaded from the files their PyPI packages install:
DuckDB never downloads anything at run time (these machines reach only package registries).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

# Every connection attaches the lake under this name; docs/warehouse.md shows the same lines.
ALIAS = "lake"
# The catalog's tables live in this schema of the PostgreSQL database.
METADATA_SCHEMA = "ducklake"
# extension name -> the package that ships it
EXTENSION_PACKAGES = {
    "postgres_scanner": "duckdb-extension-postgres-scanner",
    "ducklake": "duckdb-extension-ducklake",
}


# Nothing is installed or loaded behind our back. The extension files are installed packages,
# trusted like DuckDB's own wheel beside them; DuckDB's signature check guards downloads (which
# never happen here) and costs ~0.35 s per process for the two 40 MB files, more than a small
# import's whole write.
ENGINE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_unsigned_extensions": True,
}


class MissingExtension(RuntimeError):
    pass


def extension_file(name: str) -> Path:
    """The extension's file for the installed DuckDB, from its package."""
    package = EXTENSION_PACKAGES[name]
    wanted = f"{package}=={duckdb.__version__}"
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError:
        raise MissingExtension(
            f"DuckDB extension {name!r} is missing: install the package {wanted}."
        ) from None
    assert module.__file__ is not None
    found = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = found / f"{name}.duckdb_extension"
    if not path.exists():
        raise MissingExtension(
            f"DuckDB extension {name!r} has no build for DuckDB {duckdb.__version__} in "
            f"{found.parent}: install the package {wanted}."
        )
    return path


@dataclass(frozen=True)
class LakeLocation:
    """Where the lake is: its catalog database (a PostgreSQL URL) and its data files."""

    catalog_url: str
    data_path: str

    def attach_statement(self, *, read_only: bool = False) -> str:
        options = [
            f"DATA_PATH '{_quoted(self.data_path)}'",
            f"METADATA_SCHEMA '{METADATA_SCHEMA}'",
            # The catalog's own PostgreSQL attach reads only that schema's tables: otherwise it
            # reflects every table of the database (Dagster's and the control store's too) on
            # every ATTACH, ~6-10 ms of each run's write.
            f"META_SCHEMA '{METADATA_SCHEMA}'",
        ]
        if read_only:
            options.append("READ_ONLY")
        return (
            f"ATTACH 'ducklake:postgres:{_quoted(self.catalog_url)}' AS {ALIAS} "
            f"({', '.join(options)})"
        )


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def load_statements() -> list[str]:
    """The SQL that loads the extensions from their packages' files."""
    return [f"LOAD '{_quoted(str(extension_file(name)))}'" for name in EXTENSION_PACKAGES]


def setup_statements(location: LakeLocation, *, read_only: bool = False) -> list[str]:
    """The SQL that opens the lake in a DuckDB started with `allow_unsigned_extensions`: what
    `connect` runs, and what `oliai sql --print-attach` prints for a notebook or the CLI."""
    return [*load_statements(), location.attach_statement(read_only=read_only), f"USE {ALIAS}"]


def connect(
    location: LakeLocation, *, read_only: bool = False, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as `lake` and in use. Readers see a snapshot
    per transaction and never block writers, nor writers them. `threads`: DuckDB's own
    default (one per core) unless given."""
    config = ENGINE_CONFIG if threads is None else {**ENGINE_CONFIG, "threads": threads}
    con = duckdb.connect(config=config)
    try:
        if not read_only and "://" not in location.data_path:  # a local directory
            Path(location.data_path).mkdir(parents=True, exist_ok=True)
        for statement in setup_statements(location, read_only=read_only):
            con.execute(statement)
    except duckdb.Error as exc:
        con.close()
        # The catalog URL may hold a password: an error quoting it must not print it.
        raise type(exc)(redacted(str(exc), location.catalog_url)) from None
    except BaseException:
        con.close()
        raise
    return con


def redacted(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN, then COMMIT when the block ends, or ROLLBACK if it raised. A failed COMMIT (a
    conflict) has already ended the transaction: its error is the one raised."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):
            con.rollback()
        raise
