"""The import's assets: the landed request, the normalized contacts, the warehouse tables; the
last two made by one step.

One run per import: every materialization carries the import id and its counts as metadata, so
the asset catalogue doubles as an import log.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    multi_asset,
)

from core import staging
from core.contracts import tags
from core.landing import LandedRequest, read_landed_request
from core.private_postgres import NoPostgres
from core.warehouse.checks import CHECKS, table_facts
from core.warehouse.writer import TABLES, ImportBatch, apply_import
from orchestration.catalog_metadata import column_schemas
from orchestration.resources import ImportFiles, Warehouse
from orchestration.write_order import wait_for_turn
from transforms import NormalizedContacts, contacts_frame, normalize_contacts

GROUP = "contacts_import"


class ImportConfig(Config):
    """Which accepted request a run processes (set by the API when it submits the run)."""

    import_id: str
    org_id: str
    landing_path: str
    audience_id: str | None = None
    # Its place in acceptance order (core.contracts.acceptance_sequence); runs submitted before
    # sequences existed have none and count as older than every import since.
    sequence: int = 0


landed_batch = AssetSpec(
    "landed_batch",
    group_name=GROUP,
    kinds={"json"},
    description=(
        "The accepted bulk-import request, exactly as the API received it: one JSON file per "
        "import in the landing zone (`<data dir>/landing/<org>/<import id>.json`), fsynced "
        "before the API answered 202. The API writes it, not a Dagster run, so the catalog "
        "never shows it materialized: each import's file is read by its run (`import_batch`), "
        "and the runs of one import are those tagged `oliai/import_id=<import id>`."
    ),
)


NORMALIZED_CONTACTS = "normalized_contacts"
normalized_contacts = AssetSpec(
    NORMALIZED_CONTACTS,
    deps=[landed_batch],
    group_name=GROUP,
    kinds={"polars", "parquet"},
    description=(
        "Contacts validated and normalized by the row rules: names trimmed and NFC, phone "
        "numbers in E.164, language tags canonically cased, every other key in `metadata`. Rows "
        "that break a rule become row errors instead. Stored per import as `valid.parquet` and "
        "`errors.parquet` under `<data dir>/staging/<import id>/`."
    ),
)


def _landed(config: ImportConfig) -> LandedRequest:
    """The accepted request, or a Failure saying why it cannot be read."""
    path = Path(config.landing_path)
    try:
        return read_landed_request(path)
    except FileNotFoundError as exc:
        raise Failure(
            description=f"The request body of {config.import_id} is gone from the landing zone "
            f"(no file at {path}), e.g. removed by `oliai prune`: this import can no longer be "
            "re-processed."
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Failure(
            description=f"Cannot read the landed request of {config.import_id} at {path}: {exc}"
        ) from exc


def _normalized(
    request: LandedRequest, config: ImportConfig, import_files: ImportFiles
) -> NormalizedContacts:
    """The landed request through the row rules, staged as the asset's two Parquet files."""
    normalized = normalize_contacts(
        contacts_frame(request.contacts), request.options.default_country
    )
    staging.write_frame(
        normalized.valid, staging.valid_contacts_path(import_files.root, config.import_id)
    )
    staging.write_frame(
        normalized.errors, staging.row_errors_path(import_files.root, config.import_id)
    )
    return normalized


WAREHOUSE_TABLES = {
    "contacts": "One row per organization and E.164 phone number; name, language and metadata "
    "follow the newest import that touched the contact.",
    "audience_members": "Which contacts belong to which audience, per organization.",
    "import_errors": "Every row error of every import: row index, field, stable code, message, "
    "offending value.",
    "imports": "One row per processed import with its final status and counts.",
}
COLUMN_SCHEMAS = column_schemas({name: TABLES[name] for name in WAREHOUSE_TABLES})


@multi_asset(
    specs=[
        normalized_contacts,
        *(
            AssetSpec(
                name,
                deps=[normalized_contacts],
                group_name=GROUP,
                kinds={"duckdb", "ducklake"},
                description=description,
                metadata={"dagster/column_schema": COLUMN_SCHEMAS[name]},
            )
            for name, description in WAREHOUSE_TABLES.items()
        ),
    ],
    check_specs=[
        AssetCheckSpec(check.name, asset=check.table, description=check.description)
        for check in CHECKS
    ],
)
def import_batch(
    context: AssetExecutionContext,
    config: ImportConfig,
    import_files: ImportFiles,
    warehouse: Warehouse,
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Normalizes the landed request, then applies it to the lake as one snapshot once the
    organization's runs queued before it have written (organizations in parallel). One step,
    so that a run writes a step's events once and the frames never go through staging."""
    request = _landed(config)
    normalized = _normalized(request, config, import_files)
    yield MaterializeResult(
        asset_key=NORMALIZED_CONTACTS,
        metadata={
            "import_id": config.import_id,
            "org_id": config.org_id,
            "total": normalized.total,
            "valid": normalized.valid.height,
            "failed": normalized.failed,
            "error_count": normalized.errors.height,
        },
    )
    batch = ImportBatch(
        import_id=config.import_id,
        org_id=config.org_id,
        run_id=context.run.run_id,
        audience_id=config.audience_id,
        valid=normalized.valid,
        errors=normalized.errors,
        total=normalized.total,
        failed=normalized.failed,
        sequence=config.sequence,
        options=request.options,
    )
    wait_for_turn(context.instance, context.run.run_id, config.org_id, context.log.info)
    try:
        with warehouse.connect() as con:
            applied = apply_import(
                con, batch, datetime.now(UTC), before_commit=warehouse.before_commit
            )
            facts = table_facts(con, WAREHOUSE_TABLES, config.org_id)
    except NoPostgres as exc:
        raise Failure(description=f"{config.import_id}: nothing was written. {exc}") from exc
    counts = applied.counts
    warehouse.after_commit()
    context.instance.add_run_tags(
        context.run.run_id, tags.count_tags(context.run.run_id, counts.as_dict())
    )
    for name, row_count in facts.row_counts.items():
        yield MaterializeResult(
            asset_key=name,
            metadata={
                "import_id": config.import_id,
                "org_id": config.org_id,
                **counts.as_dict(),
                "snapshot_id": applied.snapshot_id,
                "dagster/row_count": row_count,
            },
        )
    for check, count in facts.violations.items():
        yield AssetCheckResult(
            asset_key=check.table,
            check_name=check.name,
            passed=count == 0,
            metadata={"org_id": config.org_id, "violations": count},
        )
