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


def test_the_rehearsed_write_leaves_the_extensions_mapped_and_nothing_running_or_on_disk() -> None:
    # The forkserver rehearses a write before forking run workers: a DuckDB or Polars thread left
    # running would not exist in them, and a lock it held would stay held. Arrow's pools, started
    # first here by a scan of their own, rebuild themselves in a child (checked below). Counted
    # in a fresh process; the throwaway lake's directory must be gone.
    script = """
import os, pathlib, tempfile, duckdb, pyarrow
from core.warehouse import lake, rehearsal
with duckdb.connect() as con:
    con.register('t', pyarrow.table({'a': [1]}))
    con.execute('FROM t').fetchall()
threads = lambda: len(os.listdir('/proc/self/task'))
leftovers = lambda: sorted(pathlib.Path(tempfile.gettempdir()).glob('oliai-rehearsal-*'))
before, existing = threads(), leftovers()
rehearsal.rehearse_write()
maps = pathlib.Path('/proc/self/maps').read_text()
mapped = all(f'{name}.duckdb_extension' in maps for name in lake.EXTENSION_PACKAGES)
print(before, threads(), mapped, leftovers() == existing)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    before, after, mapped, removed = result.stdout.split()
    assert after == before
    assert mapped == "True"
    assert removed == "True"


def test_a_process_forked_after_the_rehearsal_writes_a_lake_of_its_own() -> None:
    # What every run worker does: fork from the rehearsed process, then scan frames and write.
    script = """
import os
from core.warehouse import rehearsal
rehearsal.rehearse_write()
child = os.fork()
if child == 0:
    rehearsal.rehearse_write()
    os._exit(0)
_, status = os.waitpid(child, 0)
print(os.waitstatus_to_exitcode(status))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["0"]


def test_a_failed_rehearsal_only_warns_and_the_warm_up_goes_on() -> None:
    # A stand-in for a fault this machine cannot provoke (no usable temporary directory): the
    # rehearsal raises as tempfile would. Without the guard the forkserver, and every run, fails.
    script = """
import os
os.environ.pop('DAGSTER_HOME', None)
from core.warehouse import rehearsal
def broken():
    raise FileNotFoundError('No usable temporary directory found')
rehearsal.rehearse_write = broken
import orchestration.runtime.run_worker_warmup
print('warmed up')
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["warmed", "up"]
    assert "The lake write rehearsal failed, run workers start colder" in result.stderr
