"""The `import_contacts` job: one run per accepted import."""

from typing import Any

from dagster import AssetSelection, config_mapping, define_asset_job, in_process_executor

from core.contracts import IMPORT_JOB
from orchestration.assets import ImportConfig, import_batch


@config_mapping
def import_run_config(config: ImportConfig) -> dict[str, Any]:
    """Callers give the import config, not the op config it becomes."""
    return {"ops": {import_batch.op.name: {"config": config.model_dump()}}}


import_contacts = define_asset_job(
    IMPORT_JOB,
    selection=AssetSelection.assets(import_batch),
    config=import_run_config,
    executor_def=in_process_executor,
    description="Validates, normalizes and upserts one accepted bulk import into the warehouse.",
)
