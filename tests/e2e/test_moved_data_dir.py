"""A stopped stack's data directory moved elsewhere (a renamed project folder, a restored copy)
starts again with everything: the lake's catalog follows its files to the new path."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings
from core.warehouse.lake import LakeLocation
from core.warehouse.relocation import follow_moved_data_dir
from core.warehouse.writer import open_warehouse
from tests.lake import fresh_database
from tests.stack import make_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ANN = "+14155550100"
BO = "+14155550101"


def test_a_moved_data_directory_keeps_its_imports(tmp_path: Path) -> None:
    before = make_stack(tmp_path / "before" / "data")
    before.start()
    try:
        response = before.post_import(
            {"contacts": [{"name": "Ann", "phoneNumber": "+14155550100"}]}
        )
        assert response.status_code == 202, response.text
        import_id = response.json()["importId"]
        assert before.wait_for_terminal(import_id)["status"] == "COMPLETED"
    finally:
        assert before.stop() == 0
    shutil.move(tmp_path / "before", tmp_path / "after")

    after = make_stack(tmp_path / "after" / "data")
    after.start()
    try:
        assert after.wait_for_terminal(import_id)["status"] == "COMPLETED"
        assert after.query("SELECT name FROM contacts") == [{"name": "Ann"}]
        response = after.post_import({"contacts": [{"name": "Bo", "phoneNumber": BO}]})
        assert after.wait_for_terminal(response.json()["importId"])["status"] == "COMPLETED"
        assert len(after.query("SELECT name FROM contacts")) == 2
    finally:
        after.stop()
    banner = "".join(after.output)
    moved_to = Settings(data_dir=tmp_path / "after" / "data").resolved_lake_data_path
    assert f"The data directory moved: the lake's files are now read from {moved_to}." in banner


def test_a_recorded_path_that_still_exists_is_never_rewritten(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    """Two configurations disagreeing is a mistake to report, not a move to follow."""
    url = fresh_database(postgres_admin_url)
    first = tmp_path / "first"
    with open_warehouse(LakeLocation(url, f"{first}/")):
        pass
    other = tmp_path / "other"
    other.mkdir()
    assert follow_moved_data_dir(LakeLocation(url, f"{other}/")) is None
    with (
        pytest.raises(duckdb.Error, match="does not match existing data path"),
        open_warehouse(LakeLocation(url, f"{other}/")),
    ):
        pass
