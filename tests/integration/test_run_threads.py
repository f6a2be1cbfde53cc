"""Each run uses `Settings.run_threads` threads (one by default) in DuckDB, through the Warehouse
resource, and in Polars, through the forkserver's environment (test_code_server.py): runs execute
side by side, so more threads per run only add contention (docs/scaling.md)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from orchestration.definitions import build_definitions
from orchestration.resources import Warehouse
from tests.lake import warehouse_fields

pytestmark = pytest.mark.integration


def test_the_warehouse_opens_duckdb_with_the_settings_run_threads(lake_settings: Settings) -> None:
    assert Settings().run_threads == 1
    settings = lake_settings.model_copy(update={"run_threads": 3})
    assert build_definitions(settings).resources["warehouse"].threads == 3

    with Warehouse(**warehouse_fields(settings), threads=3).connect() as con:
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
