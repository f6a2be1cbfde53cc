"""The import service: what the controllers ask for, in the API's terms."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from api.dagster_gateway import DagsterGateway, RunView
from api.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ImportNotFound,
    OrchestratorUnavailable,
    RequestPruned,
    RowsNotChecked,
)
from api.failed_rows import failed_rows
from api.revert_views import View, revert_views, with_revert
from api.schemas import (
    MAX_CONTACTS,
    ChangedField,
    DryRunReport,
    DryRunRow,
    FailedRow,
    FailedRowList,
    FieldChange,
    ImportAccepted,
    ImportPhoneSummary,
    ImportStatusView,
    ImportSummary,
    RowAction,
    RowDiff,
    RowError,
    RowErrorList,
    RowProblem,
    WebhookEventView,
    webhook_event_view,
)
from api.submitter import RunSubmitter
from api.validation import decode_bulk_request
from core import landing, staging
from core.contracts import acceptance_sequence
from core.contracts.import_options import ApplyOptions
from core.contracts.status import ImportStatus, import_outcome
from core.contracts.status_view import status_fields
from core.contracts.timestamps import Timestamp
from core.control_store import ControlStore
from core.control_store.imports import IdempotencyConflict, ImportRecord
from core.warehouse.reader import LakeReader, PhoneCounts
from transforms import contacts_frame, normalize_contacts
from transforms.row_diff import BatchDiff, diff_batch

# The 202 says what the API reference's example says; the status endpoint then reports the run's
# real state (PENDING while it waits in Dagster's queue).
ACCEPTED_STATUS = ImportStatus.PROCESSING.value
# The import a dry run is judged as: no real import has this id (theirs are `imp_` + hex).
DRY_RUN_IMPORT_ID = "dry-run"


class ImportService:
    def __init__(
        self,
        store: ControlStore,
        gateway: DagsterGateway,
        submitter: RunSubmitter,
        landing_dir: Path,
        staging_dir: Path,
        lake: LakeReader,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._submitter = submitter
        self._landing_dir = landing_dir
        self._staging_dir = staging_dir
        self._lake = lake

    def accept_bulk(
        self,
        org_id: str,
        body: bytes,
        idempotency_key: str | None,
        max_contacts: int = MAX_CONTACTS,
    ) -> ImportAccepted:
        """The bulk endpoint's path; the Contacts UI's file upload takes it too, with the file
        limit (`MAX_FILE_CONTACTS`) instead of the JSON API's 10,000."""
        request = decode_bulk_request(body, max_contacts)
        if not self._gateway.reachable():
            raise OrchestratorUnavailable
        import_id = "imp_" + secrets.token_hex(12)
        request_hash = hashlib.sha256(body).hexdigest()
        path = landing.landing_path(self._landing_dir, org_id, import_id)
        total = len(request.contacts)
        try:
            self._store.imports.reserve_import(
                import_id=import_id,
                org_id=org_id,
                total=total,
                audience_id=request.audience_id,
                webhook_url=request.webhook_url,
                landing_path=str(path),
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        except IdempotencyConflict as conflict:
            return self._replay(conflict.existing, request_hash)
        try:
            landing.write_durably(path, body)
        except BaseException:
            self._store.imports.discard_import(import_id)
            raise
        self._store.imports.mark_accepted(import_id)
        self._submitter.notify()
        return ImportAccepted(import_id=import_id, status=ACCEPTED_STATUS, total=total)

    def dry_run(self, org_id: str, body: bytes, max_contacts: int = MAX_CONTACTS) -> DryRunReport:
        """The row rules on a bulk body, exactly as the import would apply them, and what each
        row would do to the organization's contacts now; writes nothing.

        The same request-level checks as `accept_bulk` (so the same problems) but no store, no
        landing file and no Dagster: a dry run works while the orchestrator is down. The batch is
        planned as the organization's next import (accepted now, after every import before it)
        over its contacts read in one lake snapshot, which never waits for an import's write.
        The Contacts UI's preview passes the file limit as `max_contacts`.
        """
        request = decode_bulk_request(body, max_contacts)
        options = ApplyOptions.of(request.default_country, request.mode)
        normalized = normalize_contacts(contacts_frame(request.contacts), options.default_country)
        valid = normalized.valid
        diff = diff_batch(
            valid,
            normalized.errors,
            self._lake.contacts(org_id, valid["phone_number"]),
            DRY_RUN_IMPORT_ID,
            acceptance_sequence(datetime.now(UTC)),
            may_create=options.mode.creates,
            may_update=options.mode.updates,
        )
        metadata = _json_values(valid["metadata"].to_list())
        rows = [
            DryRunRow(
                row_index=row_index,
                phone_number=phone_number,
                name=name,
                language=language,
                metadata=meta,
            )
            for (row_index, phone_number, name, language), meta in zip(
                valid.select("row_index", "phone_number", "name", "language").iter_rows(),
                metadata,
                strict=True,
            )
        ]
        errors = [RowError(**row) for row in normalized.errors.iter_rows(named=True)]
        return DryRunReport(
            total=normalized.total,
            valid=valid.height,
            failed=normalized.failed,
            error_count=normalized.errors.height,
            rows=rows,
            errors=errors,
            created=diff.plan.created,
            updated=diff.plan.updated,
            skipped=diff.plan.skipped,
            diff=_row_diffs(diff, errors),
        )

    def _replay(self, existing: ImportRecord, request_hash: str) -> ImportAccepted:
        if existing.request_hash != request_hash:
            raise IdempotencyKeyReused(existing.id)
        if existing.state != "accepted":
            raise IdempotencyKeyInFlight
        return ImportAccepted(import_id=existing.id, status=ACCEPTED_STATUS, total=existing.total)

    def _record(self, org_id: str, import_id: str) -> ImportRecord:
        record = self._store.imports.get_import(org_id, import_id)
        if record is None:
            raise ImportNotFound(import_id)
        return record

    def status(self, org_id: str, import_id: str) -> ImportStatusView:
        record = self._record(org_id, import_id)
        return self._with_revert(_status_view(record, self._gateway.latest_run(record.id)))

    def history(self, org_id: str, page: int, limit: int) -> tuple[list[ImportSummary], int]:
        records, total = self._store.imports.list_imports(
            org_id, offset=(page - 1) * limit, limit=limit
        )
        ids = [record.id for record in records]
        runs = self._gateway.latest_runs(ids)
        reverts = revert_views(self._store, self._gateway, ids)
        summaries = [
            with_revert(_summary(record, runs.get(record.id)), reverts.get(record.id))
            for record in records
        ]
        return summaries, total

    def summary(self, org_id: str, import_id: str) -> ImportSummary:
        """One import as `GET /v1/imports` lists it (the Contacts UI's detail page)."""
        record = self._record(org_id, import_id)
        return self._with_revert(_summary(record, self._gateway.latest_run(record.id)))

    def _with_revert(self, view: View) -> View:
        """One import's view with its revert, if one was requested."""
        return with_revert(view, revert_views(self._store, self._gateway, [view.id]).get(view.id))

    def phone_counts(self, org_id: str, import_id: str) -> PhoneCounts | None:
        """The import's valid rows by phone type and region; None until its write committed."""
        self._record(org_id, import_id)
        return self._lake.phone_counts(import_id)

    def phone_summary(self, org_id: str, import_id: str) -> ImportPhoneSummary:
        """The status fields and the phone counts the import's write kept in the lake (so they
        outlive `oliai prune`); 409 until that write has committed."""
        view = self.status(org_id, import_id)
        counts = self._lake.phone_counts(import_id)
        if counts is None:
            raise RowsNotChecked(import_id)
        return ImportPhoneSummary(
            **msgspec.structs.asdict(view), phone_types=counts.types, phone_regions=counts.regions
        )

    def webhook_deliveries(self, org_id: str, import_id: str) -> list[WebhookEventView]:
        self._record(org_id, import_id)
        return [webhook_event_view(event) for event in self._store.webhooks.deliveries(import_id)]

    def row_errors(self, org_id: str, import_id: str) -> pl.DataFrame:
        """All row errors of the import (empty until its normalization step has run)."""
        self._record(org_id, import_id)
        path = staging.row_errors_path(self._staging_dir, import_id)
        if not path.exists():
            return pl.DataFrame(
                schema={
                    "row_index": pl.Int64,
                    "field": pl.Utf8,
                    "code": pl.Utf8,
                    "message": pl.Utf8,
                    "value": pl.Utf8,
                }
            )
        return pl.read_parquet(path)

    def duplicate_rows(self, org_id: str, import_id: str) -> int | None:
        """Valid rows whose number an earlier row of the same import has (merged into that
        contact, counted as updated); None until the rows are checked."""
        self._record(org_id, import_id)
        path = staging.valid_contacts_path(self._staging_dir, import_id)
        if not path.exists():
            return None
        phones = pl.read_parquet(path, columns=["phone_number"])["phone_number"]
        return phones.len() - phones.n_unique()

    def failed_rows(self, org_id: str, import_id: str) -> list[FailedRow]:
        """Every failed row as it was sent, with its errors (`api.failed_rows`)."""
        record = self._record(org_id, import_id)
        if not staging.row_errors_path(self._staging_dir, import_id).exists():
            raise RowsNotChecked(import_id)
        try:
            contacts = landing.read_landed_request(Path(record.landing_path)).contacts
        except FileNotFoundError:
            raise RequestPruned(import_id) from None
        return failed_rows(contacts, self.row_errors(org_id, import_id))

    def failed_row_page(self, org_id: str, import_id: str, page: int, limit: int) -> FailedRowList:
        rows = self.failed_rows(org_id, import_id)
        return FailedRowList(
            import_id=import_id,
            data=rows[(page - 1) * limit : page * limit],
            page=page,
            limit=limit,
            total=len(rows),
        )

    def row_error_page(self, org_id: str, import_id: str, page: int, limit: int) -> RowErrorList:
        errors = self.row_errors(org_id, import_id)
        window = errors.slice((page - 1) * limit, limit)
        return RowErrorList(
            import_id=import_id,
            data=[RowError(**row) for row in window.iter_rows(named=True)],
            page=page,
            limit=limit,
            total=errors.height,
        )


def _summary(record: ImportRecord, run: RunView | None) -> ImportSummary:
    view = _status_view(record, run)
    return ImportSummary(
        **{field: getattr(view, field) for field in view.__struct_fields__},
        created_at=Timestamp.of(record.created_at),
        audience_id=record.audience_id,
        run_id=run.run_id if run else None,
    )


def _status_view(record: ImportRecord, run: RunView | None) -> ImportStatusView:
    outcome = (
        import_outcome(run.run_id, run.status, run.tags, record.total)
        if run
        else import_outcome(None, None, {}, record.total)
    )
    fields = status_fields(outcome, run.end_time if run else None)
    return ImportStatusView(id=record.id, **msgspec.structs.asdict(fields))


def _json_values(texts: list[str]) -> list[Any]:
    """JSON texts decoded in one call, as the wire shows them."""
    return msgspec.json.decode(b"[" + ",".join(texts).encode() + b"]", type=list[Any])


def _row_diffs(diff: BatchDiff, errors: list[RowError]) -> list[RowDiff]:
    """The wire shape of `diff.rows`: values decoded, each failed row with its errors."""
    problems: dict[int, list[RowProblem]] = {}
    for error in errors:
        problems.setdefault(error.row_index, []).append(
            RowProblem(field=error.field, code=error.code, message=error.message)
        )
    changes = [change for row in diff.rows for change in row.changes]
    values = iter(_json_values([text for c in changes for text in (c.old or "null", c.new)]))
    return [
        RowDiff(
            row_index=row.row_index,
            action=RowAction(row.action.value),
            phone_number=row.phone_number,
            changes=[
                FieldChange(
                    field=ChangedField(change.field.value),
                    key=change.key,
                    old=next(values),
                    new=next(values),
                )
                for change in row.changes
            ],
            errors=problems.get(row.row_index, []),
        )
        for row in diff.rows
    ]
