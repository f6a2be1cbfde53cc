"""The dry run's reads (core.warehouse.reader.LakeReader) on a real lake: an empty lake has no
contacts, an import's open write neither blocks a read nor shows in it, and the one cached
connection sees each commit in the next read."""

from __future__ import annotations

import polars as pl
import pytest

from core.settings import Settings
from core.warehouse import lake
from core.warehouse.migration import prepare_warehouse
from core.warehouse.reader import LakeReader
from core.warehouse.writer import open_warehouse
from tests.lake import location

pytestmark = pytest.mark.integration

ORG = "org_acme"
PHONES = pl.Series(["+919876543210", "+442079460958"])
INSERT = """INSERT INTO contacts (org_id, phone_number, name, metadata, created_at, updated_at,
                                  created_import_id, updated_import_id)
            VALUES (?, ?, ?, '{}', now(), now(), 'imp_1', 'imp_1')"""


def names(reader: LakeReader) -> dict[str, str]:
    rows = reader.contacts(ORG, PHONES).select("phone_number", "name").rows()
    return dict(rows)


def test_reads_see_committed_snapshots_and_never_wait(lake_settings: Settings) -> None:
    reader = LakeReader(location(lake_settings))
    try:
        assert names(reader) == {}  # no catalog yet: nothing imported, every number new
        prepare_warehouse(location(lake_settings), lake_settings.legacy_warehouse_path)
        with open_warehouse(location(lake_settings)) as writer:
            writer.execute(INSERT, [ORG, "+919876543210", "Priya"])
            writer.execute(INSERT, ["org_other", "+442079460958", "Not ours"])
            assert names(reader) == {"+919876543210": "Priya"}

            with lake.transaction(writer):  # an import's write, open while the API reads
                writer.execute(INSERT, [ORG, "+442079460958", "Ravi"])
                # On the writer's own thread: a read that waited for the commit would never end.
                assert names(reader) == {"+919876543210": "Priya"}
            assert names(reader) == {"+919876543210": "Priya", "+442079460958": "Ravi"}
    finally:
        reader.close()
