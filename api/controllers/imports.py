"""`/v1/imports`: bulk import, status, history, row errors, and the UI-only upload."""

from __future__ import annotations

from typing import Annotated, Any, cast

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_303_SEE_OTHER

from api.auth import authenticate, has_api_key_header, unauthorized
from api.downloads import csv_attachment
from api.failed_rows import failed_rows_csv
from api.http_rules import require_integer_query, require_json_body
from api.openapi import (
    FAILED_ROWS_RESPONSE,
    ROW_ERRORS_RESPONSE,
    BulkImportOperation,
    FailedRowsOperation,
    ImportErrorsOperation,
    UploadOperation,
    problem_responses,
)
from api.openapi_document import DRY_RUN_EXAMPLE, response
from api.problems import Problem
from api.schemas import (
    DryRunReport,
    FailedRowList,
    ImportAccepted,
    ImportList,
    ImportPhoneSummary,
    ImportStatusView,
    RowErrorList,
    WebhookDeliveryList,
)
from api.services import ImportService
from api.ui_auth import session_user
from api.uploads import MAX_UPLOAD_REQUEST_BYTES, accept_upload
from client.spreadsheet_safety import spreadsheet_safe_column
from core.control_store import ControlStore

Page = Annotated[int, Parameter(ge=1, le=1_000_000, description="Page number, from 1.")]
Limit = Annotated[int, Parameter(ge=1, le=100, description="Items per page, at most 100.")]
Format = Annotated[
    str | None,
    Parameter(
        pattern="^(json|csv)$",
        required=False,
        description="csv: everything as one CSV (as `Accept: text/csv`); json: one page.",
    ),
]


class ImportsController(Controller):
    path = "/v1/imports"
    tags = ["imports"]  # noqa: RUF012 (Litestar reads these as class attributes)
    security = [{"apiKey": []}, {"bearer": []}]  # noqa: RUF012

    @post(
        "/api/bulk",
        operation_id="createBulkImport",
        status_code=HTTP_202_ACCEPTED,
        summary="Import up to 10,000 contacts",
        operation_class=BulkImportOperation,
        responses={
            HTTP_200_OK: response(
                DryRunReport,
                "Dry run (`dryRun=true`): the row rules' results and what each row would do to "
                "the organization's contacts now; nothing created",
                DRY_RUN_EXAMPLE,
            ),
            **problem_responses(400, 401, 409, 413, 415, 422, 429, 503),
        },
    )
    async def create_bulk_import(
        self,
        request: Request[Any, Any, Any],
        org_id: str,
        import_service: ImportService,
        idempotency_key: Annotated[
            str | None,
            Parameter(header="Idempotency-Key", min_length=1, max_length=255, required=False),
        ] = None,
        dry_run: Annotated[
            bool,
            Parameter(
                query="dryRun",
                required=False,
                description="Validate and normalize only: answer 200 with every row's normalized "
                "values and errors, and what each would do (create, update with its changes, "
                "skip, fail) against the contacts as they are now, with the totals the import "
                "would report; create nothing (no import, no key reservation).",
            ),
        ] = False,
    ) -> Response[ImportAccepted]:
        """Accepts the contacts for asynchronous processing and answers 202 with the import id.

        Once the 202 is sent the import is durable. Row-level problems do not reject the
        request; they become failed rows of the import. With `dryRun=true` the same checks and
        row rules run synchronously and the answer is 200 with per-row results.
        """
        require_json_body(request)
        body = await request.body()
        if dry_run:
            report = await anyio.to_thread.run_sync(import_service.dry_run, org_id, body)
            # Documented as the 200 response above; the annotation describes the 202.
            return cast("Response[ImportAccepted]", Response(report, status_code=HTTP_200_OK))
        accepted = await anyio.to_thread.run_sync(
            import_service.accept_bulk, org_id, body, idempotency_key
        )
        return Response(accepted, status_code=HTTP_202_ACCEPTED)

    @get(
        "/{import_id:str}/status",
        operation_id="getImportStatus",
        summary="Get an import's status",
        sync_to_thread=True,
        responses=problem_responses(401, 404, 429),
    )
    def get_import_status(
        self, import_id: str, org_id: str, import_service: ImportService
    ) -> ImportStatusView:
        """The import's status, mapped from its newest Dagster run, with its counts."""
        return import_service.status(org_id, import_id)

    @get(
        "/{import_id:str}/summary",
        operation_id="getImportSummary",
        summary="Get an import's phone numbers by type and region",
        sync_to_thread=True,
        responses=problem_responses(401, 404, 409, 429),
    )
    def get_import_summary(
        self, import_id: str, org_id: str, import_service: ImportService
    ) -> ImportPhoneSummary:
        """The import's status fields, and its valid rows counted by phone type and by region
        (they sum to `total - failed`); 409 until the import's rows are checked and written."""
        return import_service.phone_summary(org_id, import_id)

    @get(
        "/",
        operation_id="listImports",
        summary="List the organization's imports",
        before_request=require_integer_query,
        sync_to_thread=True,
        responses=problem_responses(400, 401, 429),
    )
    def list_imports(
        self, org_id: str, import_service: ImportService, page: Page = 1, limit: Limit = 20
    ) -> ImportList:
        """The organization's imports, newest first."""
        items, total = import_service.history(org_id, page, limit)
        return ImportList(data=items, page=page, limit=limit, total=total)

    @get(
        "/{import_id:str}/errors",
        operation_id="listImportErrors",
        summary="List an import's row errors",
        before_request=require_integer_query,
        sync_to_thread=True,
        operation_class=ImportErrorsOperation,
        responses={**ROW_ERRORS_RESPONSE, **problem_responses(400, 401, 404, 429)},
    )
    def list_import_errors(
        self,
        request: Request[Any, Any, Any],
        import_id: str,
        org_id: str,
        import_service: ImportService,
        page: Page = 1,
        limit: Limit = 100,
        format: Format = None,
    ) -> Response[Any]:
        """The import's row errors, paged; `?format=csv` or `Accept: text/csv` downloads all."""
        if _wants_csv(request, format):
            errors = import_service.row_errors(org_id, import_id)
            return csv_attachment(
                errors.with_columns(spreadsheet_safe_column("value")).write_csv(),
                f"{import_id}-errors.csv",
            )
        page_view: RowErrorList = import_service.row_error_page(org_id, import_id, page, limit)
        return Response(page_view)

    @get(
        "/{import_id:str}/failed-rows",
        operation_id="listFailedRows",
        summary="List an import's failed rows as sent",
        before_request=require_integer_query,
        sync_to_thread=True,
        operation_class=FailedRowsOperation,
        responses={**FAILED_ROWS_RESPONSE, **problem_responses(400, 401, 404, 409, 410, 429)},
    )
    def list_failed_rows(
        self,
        request: Request[Any, Any, Any],
        import_id: str,
        org_id: str,
        import_service: ImportService,
        page: Page = 1,
        limit: Limit = 100,
        format: Format = None,
    ) -> Response[Any]:
        """The import's failed rows exactly as they were sent (every key, in order), each with its
        errors, ready to fix and import again; `?format=csv` or `Accept: text/csv` downloads all,
        one column per key and then `errors`."""
        if _wants_csv(request, format):
            rows = import_service.failed_rows(org_id, import_id)
            return csv_attachment(failed_rows_csv(rows), f"{import_id}-failed-rows.csv")
        page_view: FailedRowList = import_service.failed_row_page(org_id, import_id, page, limit)
        return Response(page_view)

    @get(
        "/{import_id:str}/webhook-deliveries",
        operation_id="listWebhookDeliveries",
        summary="List an import's webhook deliveries",
        sync_to_thread=True,
        responses=problem_responses(401, 404, 429),
    )
    def list_webhook_deliveries(
        self, import_id: str, org_id: str, import_service: ImportService
    ) -> WebhookDeliveryList:
        """Every import.completed event of the import (one per run) and each delivery attempt."""
        events = import_service.webhook_deliveries(org_id, import_id)
        return WebhookDeliveryList(import_id=import_id, data=events)

    @post(
        "/upload",
        operation_id="uploadImportFile",
        status_code=HTTP_202_ACCEPTED,
        summary="Import a contacts file (Contacts UI session only)",
        operation_class=UploadOperation,
        request_max_body_size=MAX_UPLOAD_REQUEST_BYTES,
        responses=problem_responses(400, 401, 403, 413, 415, 422, 429, 503),
    )
    async def upload_import_file(
        self,
        request: Request[Any, Any, Any],
        import_service: ImportService,
        store: ControlStore,
    ) -> Response[ImportAccepted]:
        """File imports are for the Contacts UI only: API keys get 403.

        With a Contacts UI session (and its CSRF token), a multipart `file` (CSV, .xlsx, JSON)
        of up to 100,000 rows and 50 MiB becomes one import through the bulk endpoint's path;
        optional fields `audienceId` and `webhookUrl`. See docs/ui.md.
        """
        if has_api_key_header(dict(request.scope["headers"])):
            if request.state.get("org_id") is None:
                await anyio.to_thread.run_sync(authenticate, request, store)  # 401 if bad
            raise Problem(
                403,
                "upload-not-available",
                "File upload is not available with an API key",
                "Use POST /v1/imports/api/bulk with a JSON body, or upload the file in the "
                "Contacts UI.",
            )
        user = await anyio.to_thread.run_sync(session_user, request, store)
        if user is None:
            raise unauthorized("Sign in to the Contacts UI to upload files; API keys cannot.")
        accepted = await accept_upload(
            request,
            org_id=user.org_id,
            user_id=user.id,
            import_service=import_service,
            store=store,
        )
        if "application/json" not in request.headers.get("accept", "") and "text/html" in (
            request.headers.get("accept", "")
        ):  # a browser posting the form without JavaScript
            return cast(
                "Response[ImportAccepted]",
                Redirect(f"/ui/imports/{accepted.import_id}", status_code=HTTP_303_SEE_OTHER),
            )
        return Response(accepted, status_code=HTTP_202_ACCEPTED)


def _wants_csv(request: Request[Any, Any, Any], format: str | None) -> bool:
    """`?format=csv`, or no format and an `Accept` naming text/csv."""
    return format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
