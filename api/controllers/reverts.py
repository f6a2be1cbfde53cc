"""`/v1/imports/{id}/revert`: revert an import, and list the contacts its revert kept."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from api.http_rules import require_integer_query
from api.openapi import problem_responses
from api.openapi_document import REVERTED_EXAMPLE, response
from api.reverts import RevertService
from api.schemas import ImportStatusView, KeptContactList
from core.contracts.status import ImportStatus

Page = Annotated[int, Parameter(ge=1, le=1_000_000, description="Page number, from 1.")]
Limit = Annotated[int, Parameter(ge=1, le=100, description="Items per page, at most 100.")]


class RevertsController(Controller):
    path = "/v1/imports"
    tags = ["imports"]  # noqa: RUF012 (Litestar reads these as class attributes)
    security = [{"apiKey": []}, {"bearer": []}]  # noqa: RUF012

    @post(
        "/{import_id:str}/revert",
        operation_id="revertImport",
        status_code=HTTP_202_ACCEPTED,
        summary="Revert an import",
        sync_to_thread=True,
        responses={
            HTTP_200_OK: response(
                ImportStatusView,
                "Reverted already: the import's status (REVERTED) with its revert",
                REVERTED_EXAMPLE,
            ),
            **problem_responses(401, 404, 409, 410, 429, 503),
        },
    )
    def revert_import(
        self, import_id: str, org_id: str, revert_service: RevertService
    ) -> Response[ImportStatusView]:
        """Puts back every contact and audience membership the import created or changed as they
        were before it, except contacts a later import wrote since (kept, and listed at
        `GET /v1/imports/{id}/revert/kept`). The revert runs after the organization's earlier
        imports; the 202 means it is recorded. Repeating the request changes nothing: it answers
        the import's status with its revert (200 once REVERTED)."""
        view = revert_service.request(org_id, import_id)
        done = view.status == ImportStatus.REVERTED
        return Response(view, status_code=HTTP_200_OK if done else HTTP_202_ACCEPTED)

    @get(
        "/{import_id:str}/revert/kept",
        operation_id="listRevertKept",
        summary="List the contacts an import's revert kept",
        before_request=require_integer_query,
        sync_to_thread=True,
        responses=problem_responses(400, 401, 404, 409, 429),
    )
    def list_revert_kept(
        self,
        import_id: str,
        org_id: str,
        revert_service: RevertService,
        page: Page = 1,
        limit: Limit = 100,
    ) -> KeptContactList:
        """The contacts the import's revert left as they are, by phone number, each with the
        reason (`updated_by_later_import`: `laterImportId` wrote it since)."""
        return revert_service.kept_page(org_id, import_id, page, limit)
