"""The Contacts UI's "map and preview before import" flow (docs/ui.md#preview-before-importing).

`POST /ui/imports/preview` stores the chosen file once as a draft (api/drafts.py) and redirects
to its preview page: the file's columns, each with a select pre-filled by the alias guess, its
first rows, the default country, mode and encoding, and the dry run of the whole file under that
mapping (`ImportService.dry_run` with the file limit). "Preview again" posts the page's form
back and recomputes; "Import N contacts" imports the draft through the direct upload's path
(`api.uploads.import_parsed`: same limits, same row map) and deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import polars as pl
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from api.controllers.ui import UIPages
from api.drafts import Draft, DraftNotFound, DraftStore
from api.errors import ServiceError
from api.problems import Problem, problem_for
from api.schemas import MAX_FILE_CONTACTS, DryRunReport
from api.services import ImportService
from api.ui_auth import SessionUser
from api.ui_detail import error_groups
from api.ui_errors import NO_STORE, error_page
from api.uploads import (
    MAX_FILE_BYTES,
    MAX_UPLOAD_REQUEST_BYTES,
    bulk_body,
    checked_file,
    copy_limited,
    import_options,
    import_parsed,
    parse_contacts_file,
    safe_file_name,
)
from client.contact_files import (
    ENCODING_NAMES,
    HEADER_ALIASES,
    ColumnTarget,
    ContactFileError,
    FileFormat,
    FileTable,
    canonical_name,
    check_encoding,
    detect_format,
    preview_table,
)
from core.contracts.import_options import ImportMode
from core.control_store import ControlStore

PREVIEW_ROWS = 5
TOP_ERROR_GROUPS = 5
TARGETS = {  # what each select offers, in order
    ColumnTarget.NAME: "name",
    ColumnTarget.PHONE_NUMBER: "phoneNumber",
    ColumnTarget.LANGUAGE: "language",
    ColumnTarget.METADATA: "metadata (under its own name)",
    ColumnTarget.DROP: "drop",
}


@dataclass(frozen=True)
class Choices:
    """What the preview page's form says: options for the bulk body, the CSV's encoding (None:
    detected) and each column's target by position (None: the guess)."""

    options: dict[str, Any]
    encoding: str | None
    targets: dict[int, ColumnTarget]

    @classmethod
    def of(cls, form: Any) -> Choices:
        targets = {}
        for key, value in form.items():
            if key.startswith("column-") and key[7:].isdigit() and value in TARGETS:
                targets[int(key[7:])] = ColumnTarget(value)
        encoding = str(form.get("encoding") or "").strip() or None
        return cls(import_options(form), encoding, targets)


@dataclass(frozen=True)
class Column:
    index: int
    name: str
    target: ColumnTarget


def guess(name: str) -> ColumnTarget:
    """The alias guess `read_contacts` makes for a header; unnamed columns are dropped."""
    if not name:
        return ColumnTarget.DROP
    canonical = canonical_name(name)
    return ColumnTarget(canonical) if canonical in HEADER_ALIASES else ColumnTarget.METADATA


def columns_of(table: FileTable, targets: dict[int, ColumnTarget]) -> list[Column]:
    return [
        Column(index, name, targets.get(index, guess(name)))
        for index, name in enumerate(table.columns)
    ]


def mapping_of(columns: list[Column]) -> dict[str, ColumnTarget]:
    return {column.name: column.target for column in columns if column.name}


def _problem(exc: Exception) -> tuple[int, str, list[str]]:
    """A problem as a page shows it: its status, its detail and each field's (a file the
    readers refuse is the upload's 422)."""
    if isinstance(exc, ServiceError):
        exc = problem_for(exc)
    if isinstance(exc, Problem):
        errors = (exc.extra or {}).get("errors", []) if isinstance(exc.extra, dict) else []
        fields = [f"{e.get('pointer') or e.get('parameter') or ''} {e['detail']}" for e in errors]
        return exc.status_code, str(exc.detail), fields
    return 422, str(exc), []


def _summary(report: DryRunReport) -> dict[str, Any]:
    errors = pl.DataFrame(
        [(e.row_index, e.field, e.code) for e in report.errors],
        schema={"row_index": pl.Int64, "field": pl.Utf8, "code": pl.Utf8},
        orient="row",
    )
    return {
        "total": report.total,
        "created": report.created,
        "updated": report.updated,
        "skipped": report.skipped,
        "failed": report.failed,
        "groups": error_groups(errors)[:TOP_ERROR_GROUPS],
    }


def draft_not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if not isinstance(exc, DraftNotFound):
        return error_page(request, exc)
    context = {
        "status": 404,
        "title": "This preview is gone",
        "detail": "Previews are kept for an hour and until the file is imported. "
        "Choose the file again.",
    }
    return Template("error.html", context=context, status_code=404, headers=NO_STORE)


class PreviewController(UIPages):
    path = "/ui/imports"
    exception_handlers = {**UIPages.exception_handlers, DraftNotFound: draft_not_found}  # noqa: RUF012

    @post("/preview", request_max_body_size=MAX_UPLOAD_REQUEST_BYTES)
    async def store_draft(
        self, request: Request[Any, Any, Any], user: SessionUser, drafts: DraftStore
    ) -> Response[Any]:
        """The file once, as a draft; then its preview page. A file no reader takes, an empty
        or too large one: the form again, with the problem."""
        form = await request.form()
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return _form_again(user, 400, "Choose a file to preview.", [])
            name = safe_file_name(upload.filename)

            def write(path: Any) -> None:
                upload.file.seek(0)
                copy_limited(upload.file, path, MAX_FILE_BYTES, name)
                checked_file(path)

            def store() -> Draft:
                return drafts.create(
                    org_id=user.org_id,
                    user_id=user.id,
                    file_name=name,
                    options=import_options(form),
                    write=write,
                )

            try:
                draft = await anyio.to_thread.run_sync(store)
            except ServiceError as exc:
                return _form_again(user, *_problem(exc))
        finally:
            await form.close()
        return Redirect(f"/ui/imports/preview/{draft.id}", status_code=HTTP_303_SEE_OTHER)

    @get("/preview/{draft_id:str}", sync_to_thread=True)
    def preview_page(
        self,
        draft_id: str,
        user: SessionUser,
        drafts: DraftStore,
        import_service: ImportService,
    ) -> Template:
        draft = drafts.get(draft_id, org_id=user.org_id, user_id=user.id)
        choices = Choices(draft.options, None, {})
        return _preview(user, draft, choices, import_service)

    @post("/preview/{draft_id:str}")
    async def preview_or_import(
        self,
        request: Request[Any, Any, Any],
        draft_id: str,
        user: SessionUser,
        drafts: DraftStore,
        import_service: ImportService,
        store: ControlStore,
    ) -> Response[Any]:
        """ "Preview again" (`action=preview`) or "Import N contacts" (`action=import`)."""
        form = await request.form()
        choices = Choices.of(form)
        importing = form.get("action") == "import"

        def answer() -> Response[Any]:
            draft = drafts.get(draft_id, org_id=user.org_id, user_id=user.id)
            if not importing:
                return _preview(user, draft, choices, import_service)
            try:
                parsed = parse_contacts_file(
                    draft.path, encoding=choices.encoding, mapping=_mapping(draft, choices)
                )
                accepted = import_parsed(
                    parsed,
                    choices.options,
                    org_id=user.org_id,
                    user_id=user.id,
                    import_service=import_service,
                    store=store,
                )
            except (ServiceError, Problem, ContactFileError) as exc:
                return _preview(user, draft, choices, import_service, failure=exc)
            drafts.delete(draft)
            return Redirect(f"/ui/imports/{accepted.import_id}", status_code=HTTP_303_SEE_OTHER)

        return await anyio.to_thread.run_sync(answer)


def _mapping(draft: Draft, choices: Choices) -> dict[str, ColumnTarget]:
    table = preview_table(draft.path, encoding=choices.encoding, limit=0)
    return mapping_of(columns_of(table, choices.targets))


def _form_again(user: SessionUser, status: int, detail: str, fields: list[str]) -> Template:
    context = {
        "user": user,
        "max_mib": MAX_FILE_BYTES // (1024 * 1024),
        "aliases": HEADER_ALIASES,
        "error": "\n".join([detail, *(f"• {field}" for field in fields)]),
    }
    return Template("new_import.html", context=context, status_code=status)


def _preview(
    user: SessionUser,
    draft: Draft,
    choices: Choices,
    service: ImportService,
    failure: Exception | None = None,
) -> Template:
    """The preview page: what could be read of the file, and the dry run or why there is none
    (the page answers 422 then, the form still there to fix the mapping or options)."""
    file_format = detect_format(draft.path)
    context: dict[str, Any] = {
        "user": user,
        "draft": draft,
        "options": choices.options,
        "modes": [mode.value for mode in ImportMode],
        "targets": TARGETS,
        "is_csv": file_format is FileFormat.CSV,
        "encodings": ENCODING_NAMES,
        "encoding": choices.encoding,
        "columns": [],
        "rows": [],
        "summary": None,
    }
    try:
        encoding = check_encoding(choices.encoding) if choices.encoding else None
        table = preview_table(draft.path, file_format, encoding=encoding, limit=PREVIEW_ROWS)
        columns = columns_of(table, choices.targets)
        context.update(columns=columns, rows=table.rows, read_as=table.encoding)
        if failure is not None:
            raise failure
        parsed = parse_contacts_file(draft.path, encoding=encoding, mapping=mapping_of(columns))
        report = service.dry_run(
            user.org_id, bulk_body(parsed, choices.options), max_contacts=MAX_FILE_CONTACTS
        )
        context["summary"] = _summary(report)
    except (ServiceError, Problem, ContactFileError) as exc:
        status, context["error"], context["error_fields"] = _problem(exc)
        return Template("preview.html", context=context, status_code=status)
    return Template("preview.html", context=context)
