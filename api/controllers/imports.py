"""`/v1/imports`: bulk import, status, history, row errors, and the UI-only upload."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED
from msgspec import convert

from api.openapi import BulkImportOperation, problem_responses
from api.problems import Problem
from api.schemas import (
    ImportAccepted,
    ImportList,
    ImportStatusView,
    RowErrorList,
    WebhookDeliveryList,
    WebhookEventView,
)
from api.services import ImportService

Page = Annotated[int, Parameter(ge=1, le=1_000_000, description="Page number, from 1.")]
Limit = Annotated[int, Parameter(ge=1, le=100, description="Items per page, at most 100.")]


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
        responses=problem_responses(400, 401, 409, 413, 415, 422, 429, 503),
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
    ) -> ImportAccepted:
        """Accepts the contacts for asynchronous processing and answers 202 with the import id.

        Once the 202 is sent the import is durable. Row-level problems do not reject the
        request; they become failed rows of the import.
        """
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise Problem(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"Send the body as application/json, not {content_type or 'no content type'!r}.",
            )
        body = await request.body()
        return await anyio.to_thread.run_sync(
            import_service.accept_bulk, org_id, body, idempotency_key
        )

    @get(
        "/{import_id:str}/status",
        operation_id="getImportStatus",
        sync_to_thread=True,
        responses=problem_responses(401, 404, 429),
    )
    def get_import_status(
        self, import_id: str, org_id: str, import_service: ImportService
    ) -> ImportStatusView:
        """The import's status, mapped from its newest Dagster run, with its counts."""
        return import_service.status(org_id, import_id)

    @get(
        "/",
        operation_id="listImports",
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
        sync_to_thread=True,
        responses=problem_responses(400, 401, 404, 429),
    )
    def list_import_errors(
        self,
        request: Request[Any, Any, Any],
        import_id: str,
        org_id: str,
        import_service: ImportService,
        page: Page = 1,
        limit: Limit = 100,
        format: Annotated[str | None, Parameter(pattern="^(json|csv)$", required=False)] = None,
    ) -> Response[Any]:
        """The import's row errors, paged; `?format=csv` or `Accept: text/csv` downloads all."""
        wants_csv = format == "csv" or (
            format is None and "text/csv" in request.headers.get("accept", "")
        )
        if wants_csv:
            errors = import_service.row_errors(org_id, import_id)
            return Response(
                errors.write_csv(),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{import_id}-errors.csv"'},
            )
        page_view: RowErrorList = import_service.row_error_page(org_id, import_id, page, limit)
        return Response(page_view)

    @get(
        "/{import_id:str}/webhook-deliveries",
        operation_id="listWebhookDeliveries",
        sync_to_thread=True,
        responses=problem_responses(401, 404, 429),
    )
    def list_webhook_deliveries(
        self, import_id: str, org_id: str, import_service: ImportService
    ) -> WebhookDeliveryList:
        """Every import.completed event of the import (one per run) and each delivery attempt."""
        events = import_service.webhook_deliveries(org_id, import_id)
        return WebhookDeliveryList(
            import_id=import_id, data=convert(events, list[WebhookEventView])
        )

    @post(
        "/upload",
        operation_id="uploadImportFile",
        status_code=403,
        responses=problem_responses(401, 403),
    )
    async def upload_import_file(self, org_id: str) -> None:
        """File imports are for the Contacts UI only; API keys get 403."""
        raise Problem(
            403,
            "upload-not-available",
            "File upload is not available with an API key",
            "Use POST /v1/imports/api/bulk with a JSON body, or upload the file in the "
            "Contacts UI.",
        )
