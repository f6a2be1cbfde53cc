"""The API's response shapes (msgspec, camelCase on the wire): what the server encodes and the
client decodes, defined once here so the client needs no server package.

Every timestamp is a `Timestamp` (`core.contracts.timestamps`): written `2026-03-10T10:05:00.000Z`
and decoded with `dec_hook`, as `client.operations` does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec

from core.contracts.timestamps import Timestamp, dec_hook

MAX_CONTACTS = 10_000

__all__ = [
    "MAX_CONTACTS",
    "ChangedField",
    "DryRunReport",
    "DryRunRow",
    "FailedRow",
    "FailedRowList",
    "FieldChange",
    "ImportAccepted",
    "ImportList",
    "ImportPhoneSummary",
    "ImportStatusView",
    "ImportSummary",
    "KeptContact",
    "KeptContactList",
    "RevertView",
    "RowAction",
    "RowDiff",
    "RowError",
    "RowErrorList",
    "RowProblem",
    "Timestamp",
    "dec_hook",
]


class ImportAccepted(msgspec.Struct, rename="camel"):
    import_id: str
    status: str
    total: int


class RevertView(msgspec.Struct, rename="camel"):
    """The import's revert (POST /v1/imports/{id}/revert), once requested. `status` is PENDING,
    PROCESSING, REVERTED or FAILED; the counts are set once it is REVERTED."""

    status: Literal["PENDING", "PROCESSING", "REVERTED", "FAILED"]
    requested_at: Timestamp
    reverted_at: Timestamp | None
    reverted: int | None
    kept: int | None
    memberships_removed: int | None
    run_id: str | None


# omit_defaults: only `revert` has one, so it is left out until a revert is requested.
class ImportStatusView(msgspec.Struct, rename="camel", omit_defaults=True):
    id: str
    status: str
    total: int
    created: int
    updated: int
    failed: int
    error_count: int
    # Valid rows the import's mode left untouched: total = created + updated + failed + skipped.
    skipped: int
    completed_at: Timestamp | None
    # Additive: absent until a revert is requested; `status` says REVERTED once it ran.
    revert: RevertView | None = None


# kw_only: its required fields may follow `revert`'s default (the wire order is unchanged).
class ImportSummary(ImportStatusView, kw_only=True):
    created_at: Timestamp
    audience_id: str | None
    run_id: str | None


# phonenumbers' number types, as stored (a stored number's type is never `unknown`: only valid
# numbers are counted); the summary's test checks the list against phonenumbers.
_PHONE_TYPE_NAMES = (
    "`fixed_line`, `mobile`, `fixed_line_or_mobile`, `toll_free`, `premium_rate`, `shared_cost`, "
    "`voip`, `personal_number`, `pager`, `uan`, `voicemail`"
)


class ImportPhoneSummary(ImportStatusView, kw_only=True):
    """The status fields, and the import's valid rows (`total - failed`) counted by their phone
    number's type and region; both are null for an import written before phone types existed."""

    phone_types: (
        Annotated[
            dict[str, int],
            msgspec.Meta(
                description=f"Valid rows per phone type (phonenumbers' number type): "
                f"{_PHONE_TYPE_NAMES}. Types with no row are left out.",
                examples=[{"fixed_line": 1, "mobile": 2, "toll_free": 1}],
            ),
        ]
        | None
    )
    phone_regions: (
        Annotated[
            dict[str, int],
            msgspec.Meta(
                description="Valid rows per region of the number: ISO 3166-1 alpha-2, or `001` "
                "for a non-geographic number (+800, +882...). Regions with no row are left out.",
                examples=[{"GB": 1, "IN": 2, "US": 1}],
            ),
        ]
        | None
    )


class ImportList(msgspec.Struct, rename="camel"):
    data: list[ImportSummary]
    page: int
    limit: int
    total: int


class RowError(msgspec.Struct, rename="camel"):
    row_index: int
    field: str
    code: str
    message: str
    value: str | None


class RowErrorList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[RowError]
    page: int
    limit: int
    total: int


class RowProblem(msgspec.Struct, rename="camel"):
    """One error of a failed row, as `FailedRow.errors` lists them."""

    field: str
    code: str
    message: str


class FailedRow(msgspec.Struct, rename="camel"):
    """A failed row exactly as it was sent (`row`: every key, in order), and its errors."""

    row_index: int
    row: dict[str, Any]
    errors: list[RowProblem]


class FailedRowList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[FailedRow]
    page: int
    limit: int
    total: int


class DryRunRow(msgspec.Struct, rename="camel"):
    """A row that passes the row rules, as the import would store it."""

    row_index: int
    phone_number: str
    name: str
    language: str | None
    metadata: dict[str, Any]


class RowAction(StrEnum):
    """What a dry run's row would do against the warehouse as it is now (`transforms.row_diff`
    decides it; the two enums spell the same values)."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    FAIL = "fail"


class ChangedField(StrEnum):
    NAME = "name"
    LANGUAGE = "language"
    METADATA = "metadata"


class FieldChange(msgspec.Struct, rename="camel"):
    """One value a row would change: `name`, `language`, or one `metadata` key (`key`)."""

    field: ChangedField
    key: Annotated[str | None, msgspec.Meta(description="The metadata key; null otherwise.")]
    old: Annotated[Any, msgspec.Meta(description="The value before; null: none (or null).")]
    new: Any


class RowDiff(msgspec.Struct, rename="camel"):
    """What one row of the request would do, in `rowIndex` order: `changes` for create and
    update (an update with none rewrites the same values: the import counts it updated),
    `errors` for fail."""

    row_index: int
    action: RowAction
    phone_number: str | None
    changes: list[FieldChange]
    errors: list[RowProblem]


class DryRunReport(msgspec.Struct, rename="camel"):
    """`?dryRun=true`: the row rules applied to the request, and what each row would do to the
    organization's contacts as they are now; nothing is created.

    `rows` lists the valid rows (normalized), `errors` every row error, `diff` every row's action
    and changes. `created`, `updated`, `skipped` and `failed` are what the import, accepted
    next, would report (total = created + updated + skipped + failed).
    """

    total: int
    valid: int
    failed: int
    error_count: int
    rows: list[DryRunRow]
    errors: list[RowError]
    created: int
    updated: int
    skipped: int
    diff: list[RowDiff]


class KeptContact(msgspec.Struct, rename="camel"):
    """A contact the revert left as it is: `reason` is `updated_by_later_import` (then
    `laterImportId` wrote it since) or `deleted_since`."""

    phone_number: str
    later_import_id: str | None
    reason: Literal["updated_by_later_import", "deleted_since"]


class KeptContactList(msgspec.Struct, rename="camel"):
    import_id: str
    data: list[KeptContact]
    page: int
    limit: int
    total: int
