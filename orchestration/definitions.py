"""The code location: assembles assets, the job, resources and the webhook sensor."""

from __future__ import annotations

from dagster import Definitions

from orchestration.assets import landed_batch, normalized_contacts, warehouse_tables
from orchestration.jobs import import_contacts
from orchestration.resources import ImportFiles, Warehouse
from orchestration.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[landed_batch, normalized_contacts, warehouse_tables],
        jobs=[import_contacts],
        resources={
            "import_files": ImportFiles(staging_dir=str(settings.staging_dir)),
            "warehouse": Warehouse(path=str(settings.warehouse_path)),
        },
    )


defs = build_definitions(Settings())
