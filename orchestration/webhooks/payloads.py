"""The body of the `import.completed` event: the bytes that are signed and POSTed.

Built once, when the event is recorded, and stored with it: every retry sends the same bytes.
"""

from __future__ import annotations

import msgspec

EVENT = "import.completed"


def completed_payload(import_id: str, outcome_fields: dict[str, object]) -> str:
    # msgspec encodes datetimes exactly as the API's status endpoint does.
    payload = {"event": EVENT, "importId": import_id, **outcome_fields}
    return msgspec.json.encode(payload).decode()
