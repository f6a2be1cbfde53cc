"""The bodies of the `import.completed` and `import.reverted` events: the bytes that are signed
and POSTed.

Built once, when the event is recorded, and stored with it: every retry sends the same bytes.
Its status and counts are the status endpoint's (`core.contracts.status_view`), written by the
same encoder hook, so `completedAt` is the same string in both.
"""

from __future__ import annotations

import msgspec

from core.contracts.status_view import StatusFields
from core.contracts.timestamps import Timestamp, enc_hook

EVENT = "import.completed"


def completed_payload(import_id: str, fields: StatusFields, run_id: str) -> str:
    """`{"event", "importId", <the status endpoint's fields but id>, "runId"}`, in that order."""
    payload = {
        "event": EVENT,
        "importId": import_id,
        **msgspec.to_builtins(fields, enc_hook=enc_hook),
        "runId": run_id,
    }
    return msgspec.json.encode(payload).decode()


REVERTED_EVENT = "import.reverted"


class RevertedFields(msgspec.Struct, rename="camel", frozen=True):
    """What an ended revert run did: `status` REVERTED, or FAILED (counts null then)."""

    status: str
    reverted: int | None
    kept: int | None
    memberships_removed: int | None
    reverted_at: Timestamp | None


def reverted_payload(import_id: str, fields: RevertedFields, run_id: str) -> str:
    """`{"event", "importId", "status", "reverted", "kept", "membershipsRemoved", "revertedAt",
    "runId"}`, in that order."""
    payload = {
        "event": REVERTED_EVENT,
        "importId": import_id,
        **msgspec.to_builtins(fields, enc_hook=enc_hook),
        "runId": run_id,
    }
    return msgspec.json.encode(payload).decode()
