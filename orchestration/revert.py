"""The `revert_import` job: one run per accepted revert request, queued with its organization's
imports (the run queue's per-organization limit), so it sees every import accepted before it."""

from datetime import UTC, datetime

from dagster import Config, Failure, OpExecutionContext, in_process_executor, job, op

from core.contracts import REVERT_JOB, tags
from core.private_postgres import NoPostgres
from core.warehouse.revert import RevertImpossible, revert_import
from orchestration.resources import Warehouse
from orchestration.write_order import wait_for_turn


class RevertConfig(Config):
    """Which import a revert run puts back (set by the API when it submits the run)."""

    import_id: str
    org_id: str


@op
def revert_batch(context: OpExecutionContext, config: RevertConfig, warehouse: Warehouse) -> None:
    """Puts back what the import wrote, as one lake snapshot `revert:<import id>`; a revert that
    committed before (a re-execution, a second request) is found and nothing is written."""
    wait_for_turn(context.instance, context.run.run_id, config.org_id, context.log.info)
    try:
        with warehouse.connect() as con:
            result = revert_import(
                con, config.import_id, config.org_id, context.run.run_id, datetime.now(UTC)
            )
    except RevertImpossible as exc:
        raise Failure(description=str(exc), metadata={"reason": exc.blocker.value}) from exc
    except NoPostgres as exc:
        raise Failure(description=f"{config.import_id}: nothing was reverted. {exc}") from exc
    context.log.info(f"{config.import_id}: reverted {result.as_dict()} (run {result.run_id})")
    context.instance.add_run_tags(context.run.run_id, tags.revert_count_tags(result.as_dict()))


@job(
    name=REVERT_JOB,
    executor_def=in_process_executor,
    description="Reverts one import: puts back the contacts and audience memberships it wrote.",
)
def revert_import_job() -> None:
    revert_batch()
