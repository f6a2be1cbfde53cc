"""What the service layer (`ImportService`, the file upload) raises when a request cannot be
done: domain terms, no HTTP. `api/problems.py` maps each class to its problem type, status and
title in one table; the exception's `detail` is the problem's detail, the sentence the client
reads.

Request-shape checks (`api/validation.py`, content types, the multipart form) stay HTTP-level
and raise `Problem` themselves.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service cannot carry out; `detail` says why, for the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ImportNotFound(ServiceError):
    """Unknown id, or another organization's: the same answer, so no existence oracle."""

    def __init__(self, import_id: str) -> None:
        super().__init__(f"No import {import_id!r} exists.")
        self.import_id = import_id


class OrchestratorUnavailable(ServiceError):
    """Dagster cannot be reached, so the import was not accepted (nothing was created)."""

    def __init__(self) -> None:
        super().__init__("The orchestrator cannot be reached; nothing was created. Retry shortly.")


class IdempotencyKeyReused(ServiceError):
    """The Idempotency-Key belongs to an import whose request had another body."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"This Idempotency-Key was used for import {import_id} with a different body."
        )
        self.import_id = import_id


class IdempotencyKeyInFlight(ServiceError):
    """The first request with this Idempotency-Key has not been accepted yet."""

    def __init__(self) -> None:
        super().__init__("Wait for the first request with this key to finish, then retry.")


class RowsNotChecked(ServiceError):
    """The import's rows have not been through the row rules yet, so none is known to fail."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"The rows of {import_id} have not been checked yet: it is still waiting or "
            "processing, or its run failed before checking them. Try again once it has ended."
        )


class RequestPruned(ServiceError):
    """The import's request body was deleted (`oliai prune`): its rows can no longer be read."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"The request body of {import_id} was deleted by the retention policy (oliai prune);"
            " its row errors remain at GET /v1/imports/{id}/errors."
        )


class UnsupportedFileType(ServiceError):
    """An uploaded file whose kind no reader takes (by its extension)."""


class InvalidFile(ServiceError):
    """An uploaded file that cannot be read as contacts: empty, malformed, columns missing."""


class FileTooLarge(ServiceError):
    """An uploaded file over the byte or row limit."""


class ImportNotEnded(ServiceError):
    """A revert asked of an import that is still waiting or processing."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"{import_id} has not ended yet: it can be reverted once its status is terminal."
        )


class ImportNotApplied(ServiceError):
    """A revert asked of an import whose write never committed (it ended FAILED without
    recording counts): nothing of it is in the warehouse."""

    def __init__(self, import_id: str) -> None:
        super().__init__(f"{import_id} wrote nothing to the warehouse: there is nothing to revert.")


class RevertExpired(ServiceError):
    """The lake's maintenance expired the import's snapshot or the one before it, so the rows
    to put back are gone."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"The warehouse no longer keeps the snapshots of {import_id} and the one before it "
            "(expired by the warehouse maintenance after OLIAI_LAKE_SNAPSHOT_RETENTION_DAYS): "
            "it can no longer be reverted."
        )


class NotReverted(ServiceError):
    """The kept contacts of a revert that has not run (yet, or at all)."""

    def __init__(self, import_id: str) -> None:
        super().__init__(
            f"{import_id} has not been reverted (yet): POST /v1/imports/{import_id}/revert, then "
            "retry once its status is REVERTED."
        )
