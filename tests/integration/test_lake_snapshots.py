"""Each import is one lake snapshot (author: the organization, commit message: the import id),
so `AT (VERSION => n)` shows the warehouse before or after any import; the nightly
`warehouse_maintenance` job compacts the lake without changing what it holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, DefaultScheduleStatus

from core.settings import Settings
from core.warehouse.maintenance import footprint
from orchestration.definitions import build_definitions
from tests.lake import reading, run_import

pytestmark = pytest.mark.integration

ORG = "org_acme"
LEO = "+14155552671"
TABLES = ["contacts", "audience_members", "imports", "import_errors"]


def snapshot_of(settings: Settings, import_id: str) -> tuple[int, str, str]:
    with reading(settings) as con:
        rows = con.execute(
            "SELECT snapshot_id, author, commit_message FROM lake.snapshots() "
            "WHERE commit_message = ?",
            [import_id],
        ).fetchall()
    (row,) = rows
    return row


def test_each_import_is_one_snapshot_and_time_travel_shows_the_one_before(
    lake_settings: Settings,
) -> None:
    with DagsterInstance.ephemeral() as instance:
        for n, name in enumerate(["Leo", "Leo B.", "Leo C."]):
            contacts = [{"name": name, "phoneNumber": LEO}]
            assert run_import(lake_settings, instance, f"imp_{n}", ORG, contacts).success
    snapshots = [snapshot_of(lake_settings, f"imp_{n}") for n in range(3)]
    assert [author for _, author, _ in snapshots] == [ORG, ORG, ORG]
    ids = [snapshot_id for snapshot_id, _, _ in snapshots]
    assert ids == sorted(ids)
    with reading(lake_settings) as con:
        names = [
            con.execute(
                "SELECT name FROM contacts AT (VERSION => ?) WHERE phone_number = ?", [id_, LEO]
            ).fetchall()
            for id_ in ids
        ]
        before_first = con.execute(
            "SELECT count(*) FROM contacts AT (VERSION => ?)", [ids[0] - 1]
        ).fetchall()
    assert names == [[("Leo",)], [("Leo B.",)], [("Leo C.",)]]
    assert before_first == [(0,)]


def test_maintenance_compacts_the_lake_and_keeps_every_row(
    lake_settings: Settings, tmp_path: Path
) -> None:
    settings = lake_settings.model_copy(
        update={"lake_snapshot_retention_days": 0.0, "lake_file_grace_hours": 0.0}
    )
    with DagsterInstance.ephemeral() as instance:
        for n in range(12):
            # Big enough to be written as Parquet (small inserts are inlined in the catalog).
            contacts = [
                {"name": f"Contact {n}", "phoneNumber": f"+1415555{i:04d}", "batch": n}
                for i in range(n * 50, n * 50 + 400)
            ]
            assert run_import(settings, instance, f"imp_{n}", ORG, contacts).success
        with reading(settings) as con:
            before = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}
            shape = footprint(con)
        files = sorted(Path(settings.resolved_lake_data_path).rglob("*.parquet"))

        result = (
            build_definitions(settings)
            .resolve_job_def("warehouse_maintenance")
            .execute_in_process(instance=instance)
        )

    assert result.success
    with reading(settings) as con:
        after = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}
        compacted = footprint(con)
    assert after == before
    assert compacted.data_files < shape.data_files
    assert compacted.delete_files < shape.delete_files
    assert compacted.snapshots < shape.snapshots
    left = sorted(Path(settings.resolved_lake_data_path).rglob("*.parquet"))
    assert len(left) < len(files)  # what no snapshot needs is gone from disk
    (step,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = step.event_specific_data.metadata  # type: ignore[union-attr]
    assert metadata["data_files_before"].value == shape.data_files
    assert metadata["data_files_after"].value == compacted.data_files


def test_maintenance_runs_nightly_by_default(lake_settings: Settings) -> None:
    definitions = build_definitions(lake_settings)
    schedule = definitions.resolve_schedule_def("nightly_warehouse_maintenance")
    assert schedule.job_name == "warehouse_maintenance"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "30 3 * * *"
