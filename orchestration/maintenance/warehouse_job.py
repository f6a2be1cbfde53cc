"""The `warehouse_maintenance` job and its nightly schedule, visible (and runnable) in the
Dagster UI: `core/warehouse/maintenance.py` says what it does."""

from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from core.warehouse.maintenance import maintain
from orchestration.resources import Warehouse


@op(description="Flush inlined rows, expire old snapshots, merge and rewrite files, clean up.")
def maintain_lake(context: OpExecutionContext, warehouse: Warehouse) -> Output[None]:
    with warehouse.connect() as con:
        before, after = maintain(
            con,
            keep_snapshots=timedelta(days=warehouse.snapshot_retention_days),
            file_grace=timedelta(hours=warehouse.file_grace_hours),
        )
    context.log.info(f"lake maintained: {before.as_dict()} -> {after.as_dict()}")
    metadata = {f"{key}_before": value for key, value in before.as_dict().items()}
    metadata |= {f"{key}_after": value for key, value in after.as_dict().items()}
    return Output(None, metadata=metadata)


@job(description="Keeps the lake small and fast (merges files, expires old snapshots).")
def warehouse_maintenance() -> None:
    maintain_lake()


nightly_warehouse_maintenance = ScheduleDefinition(
    name="nightly_warehouse_maintenance",
    job=warehouse_maintenance,
    cron_schedule="30 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every night at 03:30 (the stack's time zone).",
)
