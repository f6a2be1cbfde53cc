"""Every SQL block of docs/warehouse.md runs, read-only as `oliai sql` runs it, on a lake that
holds the imports the examples name, and answers what its text says it answers.

The examples name the organization `demo`, the audience `aud_abc123` and the import
`imp_1b9935202c3ce579d0a939fa`; the imports here use exactly those. The time-travel example's
snapshot ids (42, 41) are replaced by the named import's real snapshot and the one before it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dagster import DagsterInstance

from core.settings import Settings
from core.warehouse.reader import query_warehouse
from tests.lake import fresh_database, location, run_import

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
ORG = "demo"
NAMED_IMPORT = "imp_1b9935202c3ce579d0a939fa"
FIRST = [
    {"name": "Priya", "phoneNumber": "+919876543210", "tier": "premium", "city": "Mumbai"},
    {"name": "Ravi", "phoneNumber": "+442079460958", "language": "en-GB", "tags": ["a"]},
    {"name": "", "phoneNumber": "+14155552671"},
]
SECOND = [
    {"name": "Priya S.", "phoneNumber": "+919876543210", "tier": "premium"},
    {"name": "Leo", "phoneNumber": "9876", "language": "xx-!!"},
]


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str) -> Settings:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("doc") / "data",
        postgres_url=fresh_database(postgres_admin_url),
    )
    with DagsterInstance.ephemeral() as instance:
        for import_id, contacts in [("imp_first", FIRST), (NAMED_IMPORT, SECOND)]:
            assert run_import(settings, instance, import_id, ORG, contacts, "aud_abc123").success
    return settings


def test_the_doc_has_its_examples() -> None:
    assert len(sql_blocks()) >= 9


@pytest.mark.parametrize("block", sql_blocks(), ids=lambda block: block.split("\n")[0][:40])
def test_each_example_runs_read_only(lake: Settings, block: str) -> None:
    (snapshot,) = query_warehouse(
        location(lake),
        f"SELECT snapshot_id FROM lake.snapshots() WHERE commit_message = '{NAMED_IMPORT}'",
    )["snapshot_id"].to_list()
    block = block.replace("VERSION => 42", f"VERSION => {snapshot}")
    block = block.replace("VERSION => 41", f"VERSION => {snapshot - 1}")
    block = re.sub(r"--[^\n]*", "", block)
    for statement in [part for part in block.split(";") if part.strip()]:
        frame = query_warehouse(location(lake), statement)
        assert frame.height > 0, statement
