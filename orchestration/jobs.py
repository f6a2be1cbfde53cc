"""The `import_contacts` job: one run per accepted import."""

from typing import Any

from dagster import AssetSelection, config_mapping, define_asset_job, in_process_executor

from core.contracts import IMPORT_JOB
from orchestration.assets import ImportConfig, normalized_contacts, warehouse_tables


@config_mapping
def import_run_config(config: ImportConfig) -> dict[str, Any]:
    """Both steps read the same import config; callers give it once."""
    op_config = {"config": config.model_dump()}
    return {"ops": {"normalized_contacts": op_config, "warehouse_tables": op_config}}


import_contacts = define_asset_job(
    IMPORT_JOB,
    selection=AssetSelection.assets(normalized_contacts, warehouse_tables),
    config=import_run_config,
    executor_def=in_process_executor,
    description="Validates, normalizes and upserts one accepted bulk import into the warehouse.",
)
