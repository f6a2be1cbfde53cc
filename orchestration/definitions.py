"""The code location: assembles assets, the job, resources and the webhook sensor."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from core.settings import Settings
from orchestration.assets import landed_batch, normalized_contacts, warehouse_tables
from orchestration.jobs import import_contacts
from orchestration.resources import ImportFiles, Warehouse, WebhookDelivery
from orchestration.sensors import import_webhooks


def _optional_path(path: Path | None) -> str | None:
    return None if path is None else str(path)


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[landed_batch, normalized_contacts, warehouse_tables],
        jobs=[import_contacts],
        sensors=[import_webhooks],
        resources={
            "import_files": ImportFiles(staging_dir=str(settings.staging_dir)),
            "warehouse": Warehouse(
                path=str(settings.warehouse_path),
                lock_wait_seconds=settings.warehouse_lock_wait_seconds,
                pause_in_write=_optional_path(settings.fault_pause_in_write),
                pause_after_commit=_optional_path(settings.fault_pause_after_commit),
            ),
            "webhook_delivery": WebhookDelivery(
                control_store_url=settings.resolved_control_store_url,
                allow_private=settings.webhook_allow_private,
                timeout_seconds=settings.webhook_timeout_seconds,
                concurrency=settings.webhook_concurrency,
            ),
        },
    )


defs = build_definitions(Settings())
