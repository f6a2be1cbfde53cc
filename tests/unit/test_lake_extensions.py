"""The lake's DuckDB extensions come from installed packages, never a download: each resolves to
its package's file for the installed DuckDB, and a missing package fails naming what to install."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from core.warehouse import lake


@pytest.mark.parametrize("name", sorted(lake.EXTENSION_PACKAGES))
def test_each_extension_is_its_packages_file_for_this_duckdb(name: str) -> None:
    path = lake.extension_file(name)
    package = lake.EXTENSION_PACKAGES[name].replace("-", "_")
    assert package in path.parts
    assert f"v{duckdb.__version__}" in path.parts
    assert path.name == f"{name}.duckdb_extension"
    assert path.stat().st_size > 1_000_000


def test_a_missing_package_is_named_with_the_version_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A package name that is not installed: the real import fails, as it would without it.
    monkeypatch.setitem(lake.EXTENSION_PACKAGES, "ducklake", "duckdb-extension-not-installed")
    with pytest.raises(lake.MissingExtension) as raised:
        lake.extension_file("ducklake")
    assert str(raised.value) == (
        "DuckDB extension 'ducklake' is missing: install the package "
        f"duckdb-extension-not-installed=={duckdb.__version__}."
    )


def test_nothing_is_installed_or_autoloaded_behind_our_back() -> None:
    assert lake.ENGINE_CONFIG["autoinstall_known_extensions"] is False
    assert lake.ENGINE_CONFIG["autoload_known_extensions"] is False
    con = duckdb.connect(config=lake.ENGINE_CONFIG)
    with pytest.raises(duckdb.IOException) as raised:
        con.execute("ATTACH 'ducklake:nowhere.ducklake' AS nowhere")
    # Not loaded, and not fetched: with autoinstall on, this would be "Failed to download".
    assert 'Install it first using "INSTALL ducklake"' in str(raised.value)
    assert "download" not in str(raised.value)


def test_warming_up_leaves_the_extensions_mapped_and_no_duckdb_thread_behind() -> None:
    # The forkserver warms up before forking run workers: a thread left running would not exist
    # in them, and a lock it held would stay held. Counted in a fresh process, after Arrow.
    script = """
import os, pathlib, pyarrow
from core.warehouse import lake
threads = lambda: len(os.listdir('/proc/self/task'))
before = threads()
lake.warm_up()
maps = pathlib.Path('/proc/self/maps').read_text()
mapped = all(f'{name}.duckdb_extension' in maps for name in lake.EXTENSION_PACKAGES)
print(before, threads(), mapped)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    before, after, mapped = result.stdout.split()
    assert after == before
    assert mapped == "True"
