"""The code location: assembles assets, the job, resources and the webhook sensor."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, EnvVar

from core.settings import Settings
from orchestration.assets import import_batch, landed_batch
from orchestration.jobs import import_contacts
from orchestration.maintenance.warehouse_job import (
    nightly_warehouse_maintenance,
    warehouse_maintenance,
)
from orchestration.resources import ImportFiles, Warehouse, WebhookDelivery
from orchestration.revert import revert_import_job
from orchestration.sensors import import_webhooks

POSTGRES_URL_VARIABLE = "OLIAI_POSTGRES_URL"


def _optional_path(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _secret(value: str | None, variable: str) -> str | EnvVar | None:
    """A value read from the environment is passed as the variable: the Dagster UI then shows
    its name, not the secret (an external server's URL holds a password)."""
    return EnvVar(variable) if value is not None and os.environ.get(variable) == value else value


def build_definitions(settings: Settings) -> Definitions:
    postgres_url = _secret(settings.postgres_url, POSTGRES_URL_VARIABLE)
    return Definitions(
        assets=[landed_batch, import_batch],
        jobs=[import_contacts, revert_import_job, warehouse_maintenance],
        schedules=[nightly_warehouse_maintenance],
        sensors=[import_webhooks],
        resources={
            "import_files": ImportFiles(staging_dir=str(settings.staging_dir)),
            "warehouse": Warehouse(
                postgres_url=postgres_url,
                postgres_dir=str(settings.postgres_dir),
                data_path=settings.resolved_lake_data_path,
                threads=settings.run_threads,
                snapshot_retention_days=settings.lake_snapshot_retention_days,
                file_grace_hours=settings.lake_file_grace_hours,
                pause_in_write=_optional_path(settings.fault_pause_in_write),
                pause_after_commit=_optional_path(settings.fault_pause_after_commit),
            ),
            "webhook_delivery": WebhookDelivery(
                postgres_url=postgres_url,
                postgres_dir=str(settings.postgres_dir),
                allow_private=settings.webhook_allow_private,
                timeout_seconds=settings.webhook_timeout_seconds,
                concurrency=settings.webhook_concurrency,
            ),
        },
    )


defs = build_definitions(Settings())
