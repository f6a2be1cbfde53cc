"""The Contacts UI: server-rendered pages under `/ui` for signed-in users (docs/ui.md).

Pages call the same `ImportService` as the JSON API; the file itself goes to
`POST /v1/imports/upload` (api/controllers/imports.py). Partials under `/ui/partials` are what
the pages' few lines of JavaScript poll while an import runs.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, Parameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from api.downloads import csv_attachment
from api.errors import ServiceError
from api.failed_rows import failed_rows_csv
from api.reverts import RevertService
from api.schemas import ImportSummary
from api.services import ImportService
from api.sign_in import SignInService, Throttled, WrongCredentials
from api.ui_auth import SessionUser, session_user, sign_in
from api.ui_detail import error_groups, errors_window, webhook_state
from api.ui_errors import error_page
from api.uploads import MAX_FILE_BYTES, file_row
from client.contact_files import HEADER_ALIASES
from client.spreadsheet_safety import spreadsheet_safe
from core.contracts.status import TERMINAL, ImportStatus
from core.contracts.tags import IMPORT_ID
from core.control_store import ControlStore
from transforms.errors import RowErrorCode

PAGE_SIZE = 20
KEPT_SHOWN = 100
# An import that wrote contacts: what a revert can put back.
REVERTIBLE = frozenset({ImportStatus.COMPLETED, ImportStatus.COMPLETED_WITH_ERRORS})
Page = Annotated[int, Parameter(ge=1, le=1_000_000)]
ErrorsPage = Annotated[int, QueryParameter(name="errorsPage", ge=1, le=1_000_000)]
ErrorCodeFilter = RowErrorCode | None


class LoginRequired(Exception):
    """No signed-in user: pages redirect to the sign-in page."""


def _login_redirect(request: Request[Any, Any, Any], _exc: LoginRequired) -> Response[Any]:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if target.startswith("/ui/partials/"):
        target = "/ui/imports"
    return Redirect(f"/ui/login?next={quote(target)}", status_code=HTTP_303_SEE_OTHER)


def provide_ui_user(request: Request[Any, Any, Any], store: ControlStore) -> SessionUser:
    user = session_user(request, store)
    if user is None:
        raise LoginRequired
    return user


def _safe_next(target: str | None) -> str:
    """Only local UI paths: never an open redirect."""
    if target and target.startswith("/ui/") and not target.startswith("/ui/login"):
        return target
    return "/ui/imports"


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _is_live(item: ImportSummary) -> bool:
    """Its page refreshes while the import, or its revert, is under way."""
    reverting = item.revert is not None and item.revert.status in ("PENDING", "PROCESSING")
    return ImportStatus(item.status) not in TERMINAL or reverting


class UIPages(Controller):
    """What every controller of Contacts UI pages shares (no routes of its own)."""

    include_in_schema = False
    exception_handlers = {  # noqa: RUF012
        LoginRequired: _login_redirect,
        ServiceError: error_page,
        HTTPException: error_page,
    }
    # Signed-in pages are private and live: Back after sign-out must not show them from cache.
    cache_control = CacheControlHeader(no_store=True)
    # Resolved only for handlers that take `user`: those pages need a signed-in user.
    dependencies = {"user": Provide(provide_ui_user, sync_to_thread=True)}  # noqa: RUF012


class UIController(UIPages):
    path = "/ui"

    @get("/login", sync_to_thread=True)
    def login_page(
        self,
        request: Request[Any, Any, Any],
        store: ControlStore,
        next: str | None = None,
        signed_out: Annotated[bool, QueryParameter(name="signedOut")] = False,
    ) -> Response[Any]:
        if session_user(request, store) is not None:
            return Redirect(_safe_next(next), status_code=HTTP_303_SEE_OTHER)
        context = {"next": _safe_next(next), "email": "", "signed_out": signed_out}
        return Template("login.html", context=context)

    @post("/login", status_code=HTTP_303_SEE_OTHER)
    async def login(
        self,
        request: Request[Any, Any, Any],
        sign_in_service: SignInService,
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        """Sign in (the rule is `SignInService`); 5 failures per email and client address in
        15 minutes → 429."""
        email = data.get("email", "").strip().lower()
        password = data.get("password", "")
        target = _safe_next(data.get("next"))
        client = _client(request)

        def page(error: str, status: int, headers: dict[str, str] | None = None) -> Template:
            context = {"next": target, "email": email, "error": error}
            return Template("login.html", context=context, status_code=status, headers=headers)

        outcome = await anyio.to_thread.run_sync(sign_in_service.sign_in, email, password, client)
        if isinstance(outcome, Throttled):
            minutes = (outcome.wait_s + 59) // 60
            return page(
                f"Too many failed sign-ins. Try again in {minutes} minute(s).",
                429,
                {"Retry-After": str(outcome.wait_s)},
            )
        if isinstance(outcome, WrongCredentials):
            return page("Wrong email or password.", 401)
        sign_in(request, outcome.user)
        return Redirect(target, status_code=HTTP_303_SEE_OTHER)

    @post("/logout", status_code=HTTP_303_SEE_OTHER)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/ui/login?signedOut=true", status_code=HTTP_303_SEE_OTHER)

    @get(
        "/imports",
        sync_to_thread=True,
    )
    def imports_page(
        self, user: SessionUser, import_service: ImportService, store: ControlStore, page: Page = 1
    ) -> Template:
        return Template(
            "imports.html",
            context={"user": user, **self._rows_context(user, import_service, store, page)},
        )

    @get(
        "/partials/imports",
        sync_to_thread=True,
    )
    def imports_rows(
        self, user: SessionUser, import_service: ImportService, store: ControlStore, page: Page = 1
    ) -> Template:
        return Template(
            "_import_rows.html", context=self._rows_context(user, import_service, store, page)
        )

    @staticmethod
    def _rows_context(
        user: SessionUser, service: ImportService, store: ControlStore, page: int
    ) -> dict[str, Any]:
        items, total = service.history(user.org_id, page, PAGE_SIZE)
        files = store.users.uploads_for(user.org_id, [item.id for item in items])
        return {
            "items": items,
            "files": {key: upload.file_name for key, upload in files.items()},
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "total": total,
            "live": any(_is_live(item) for item in items),
        }

    @get(
        "/imports/new",
        sync_to_thread=False,
    )
    def new_import_page(self, user: SessionUser) -> Template:
        return Template(
            "new_import.html",
            context={
                "user": user,
                "max_mib": MAX_FILE_BYTES // (1024 * 1024),
                "aliases": HEADER_ALIASES,
            },
        )

    @get(
        "/imports/{import_id:str}",
        sync_to_thread=True,
    )
    def import_page(
        self,
        user: SessionUser,
        import_id: str,
        import_service: ImportService,
        store: ControlStore,
        dagster_url: str,
        revert_service: RevertService,
        code: ErrorCodeFilter = None,
        errors_page: ErrorsPage = 1,
    ) -> Template:
        context = self._detail_context(
            user, import_id, import_service, store, dagster_url, revert_service, code, errors_page
        )
        return Template("import_detail.html", context={"user": user, **context})

    @get(
        "/partials/imports/{import_id:str}",
        sync_to_thread=True,
    )
    def import_partial(
        self,
        user: SessionUser,
        import_id: str,
        import_service: ImportService,
        store: ControlStore,
        dagster_url: str,
        revert_service: RevertService,
        code: ErrorCodeFilter = None,
        errors_page: ErrorsPage = 1,
    ) -> Template:
        context = self._detail_context(
            user, import_id, import_service, store, dagster_url, revert_service, code, errors_page
        )
        return Template("_import_detail_live.html", context=context)

    @staticmethod
    def _detail_context(
        user: SessionUser,
        import_id: str,
        service: ImportService,
        store: ControlStore,
        dagster_url: str,
        reverts: RevertService,
        code: RowErrorCode | None,
        errors_page: int,
    ) -> dict[str, Any]:
        item: ImportSummary = service.summary(user.org_id, import_id)
        live = _is_live(item)
        dagster = dagster_url.rstrip("/")
        kept = (
            reverts.kept_page(user.org_id, import_id, 1, KEPT_SHOWN)
            if item.revert is not None and item.revert.kept
            else None
        )
        upload = store.users.uploads_for(user.org_id, [import_id]).get(import_id)
        errors = service.row_errors(user.org_id, import_id)
        query = {"code": code.value} if code else {}
        return {
            "item": item,
            "upload": upload,
            "error_total": errors.height,
            "groups": error_groups(errors),
            "code": code,
            "errors": errors_window(errors, upload, code, errors_page),
            "query": urlencode({**query, "errorsPage": errors_page}),
            "code_query": urlencode(query),
            "duplicates": service.duplicate_rows(user.org_id, import_id),
            "phones": None if live else service.phone_counts(user.org_id, import_id),
            "revertible": item.revert is None and item.status in REVERTIBLE,
            "kept": kept,
            "webhook": webhook_state(service.webhook_deliveries(user.org_id, import_id)),
            "live": live,
            "run_url": f"{dagster}/runs/{item.run_id}" if item.run_id else None,
            # The Dagster UI's runs filter, as a person would type it: every run of the import.
            "runs_url": f"{dagster}/runs?" + urlencode({"q[]": f"tag:{IMPORT_ID}={item.id}"}),
        }

    @get(
        "/imports/{import_id:str}/errors.csv",
        sync_to_thread=True,
    )
    def errors_csv(
        self, user: SessionUser, import_id: str, import_service: ImportService, store: ControlStore
    ) -> Response[str]:
        """Every row error, with the row it came from in the uploaded file (`file_row`)."""
        errors = import_service.row_errors(user.org_id, import_id)
        upload = store.users.uploads_for(user.org_id, [import_id]).get(import_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["row_index", "file_row", "field", "code", "message", "value"])
        for row in errors.iter_rows(named=True):
            line = file_row(upload.row_map, row["row_index"]) if upload else None
            writer.writerow(
                [
                    row["row_index"],
                    line,
                    row["field"],
                    row["code"],
                    row["message"],
                    None if row["value"] is None else spreadsheet_safe(row["value"]),
                ]
            )
        return csv_attachment(out.getvalue(), f"{import_id}-errors.csv")

    @get(
        "/imports/{import_id:str}/failed-rows.csv",
        sync_to_thread=True,
    )
    def failed_rows_csv(
        self, user: SessionUser, import_id: str, import_service: ImportService
    ) -> Response[str]:
        """Every failed row as the upload read it, with its errors (as the API's CSV)."""
        rows = import_service.failed_rows(user.org_id, import_id)
        return csv_attachment(failed_rows_csv(rows), f"{import_id}-failed-rows.csv")

    @post("/imports/{import_id:str}/revert", status_code=HTTP_303_SEE_OTHER, sync_to_thread=True)
    def revert(self, user: SessionUser, import_id: str, revert_service: RevertService) -> Redirect:
        """Revert the import (as `POST /v1/imports/{id}/revert`), then back to its page, where the
        revert's progress shows."""
        revert_service.request(user.org_id, import_id)
        return Redirect(f"/ui/imports/{import_id}", status_code=HTTP_303_SEE_OTHER)


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect("/ui/imports", status_code=HTTP_303_SEE_OTHER)
