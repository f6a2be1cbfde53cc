"""Reverting an import in the lake (`core/warehouse/revert.py`, run by the `revert_import` job):
what the import wrote is put back from the snapshot before it, contacts a later import wrote are
kept and listed, and the revert is one snapshot that a second run finds and does not repeat."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from core.contracts import REVERT_JOB, tags
from core.settings import Settings
from orchestration.definitions import build_definitions
from tests.lake import reading, run_import

pytestmark = pytest.mark.integration

ORG = "org_revert"
ANA, BO, CY, DI = "+14155550101", "+14155550102", "+14155550103", "+14155550104"


def revert(settings: Settings, instance: DagsterInstance, import_id: str) -> ExecuteInProcessResult:
    return (
        build_definitions(settings)
        .resolve_job_def(REVERT_JOB)
        .execute_in_process(
            run_config={
                "ops": {"revert_batch": {"config": {"import_id": import_id, "org_id": ORG}}}
            },
            instance=instance,
            tags={tags.REVERT_OF: import_id, tags.ORG_ID: ORG},
            raise_on_error=False,
        )
    )


def contacts(settings: Settings) -> dict[str, tuple[Any, ...]]:
    with reading(settings) as con:
        rows = con.execute("SELECT * FROM contacts WHERE org_id = ? ORDER BY 2", [ORG]).fetchall()
    return {row[1]: row for row in rows}


def query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with reading(settings) as con:
        return con.execute(sql).fetchall()


def test_a_revert_puts_back_what_the_import_wrote_and_keeps_what_a_later_one_wrote(
    lake_settings: Settings,
) -> None:
    with DagsterInstance.ephemeral() as instance:
        first = [{"name": "Ana", "phoneNumber": ANA}, {"name": "Bo", "phoneNumber": BO}]
        assert run_import(lake_settings, instance, "imp_0", ORG, first).success
        before_a = contacts(lake_settings)
        a_rows = [
            {"name": "Ana A", "phoneNumber": ANA},
            {"name": "Cy", "phoneNumber": CY},
            {"name": "Di", "phoneNumber": DI},
        ]
        assert run_import(lake_settings, instance, "imp_a", ORG, a_rows, audience_id="aud").success
        b_rows = [{"name": "Di B", "phoneNumber": DI}]
        assert run_import(lake_settings, instance, "imp_b", ORG, b_rows).success
        after_b = contacts(lake_settings)

        run = revert(lake_settings, instance, "imp_a")
        assert run.success
        counts = {"reverted": 2, "kept": 1, "membershipsRemoved": 2}
        recorded = instance.get_run_by_id(run.run_id)
        assert recorded is not None
        assert tags.revert_counts_from_tags(recorded.tags) == counts

        after = contacts(lake_settings)
        # Ana as imp_0 left her (every column), Bo untouched, Cy (created by A) gone, Di as B wrote.
        assert after == {ANA: before_a[ANA], BO: before_a[BO], DI: after_b[DI]}
        assert query(
            lake_settings, "SELECT audience_id, phone_number, import_id FROM audience_members"
        ) == [("aud", DI, "imp_a")]
        assert query(
            lake_settings,
            "SELECT import_id, phone_number, later_import_id, reason FROM import_revert_kept",
        ) == [("imp_a", DI, "imp_b", "updated_by_later_import")]
        assert query(
            lake_settings,
            "SELECT import_id, run_id, reverted, kept, memberships_removed FROM import_reverts",
        ) == [("imp_a", run.run_id, 2, 1, 2)]
        assert query(lake_settings, "SELECT import_id, status FROM imports ORDER BY 1") == [
            ("imp_0", "COMPLETED"),
            ("imp_a", "REVERTED"),
            ("imp_b", "COMPLETED"),
        ]
        snapshots = "SELECT commit_message FROM lake.snapshots() WHERE commit_message IS NOT NULL"
        assert query(lake_settings, snapshots)[-1] == ("revert:imp_a",)

        # Again (a second request, a re-execution): the first revert's result, nothing written.
        count_snapshots = "SELECT count(*) FROM lake.snapshots()"
        snapshot_count = query(lake_settings, count_snapshots)
        again = revert(lake_settings, instance, "imp_a")
        assert again.success
        again_run = instance.get_run_by_id(again.run_id)
        assert again_run is not None
        assert tags.revert_counts_from_tags(again_run.tags) == counts
        assert query(lake_settings, count_snapshots) == snapshot_count
        assert contacts(lake_settings) == after


def test_an_import_that_never_committed_cannot_be_reverted(lake_settings: Settings) -> None:
    with DagsterInstance.ephemeral() as instance:
        assert run_import(
            lake_settings, instance, "imp_0", ORG, [{"name": "Ana", "phoneNumber": ANA}]
        ).success
        run = revert(lake_settings, instance, "imp_never")
    assert not run.success
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert "imp_never cannot be reverted: not_applied" in str(failure.event_specific_data)
