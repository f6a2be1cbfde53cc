"""Completion webhooks, from an ended run to a signed POST; the `import_webhooks` sensor only
finds the ended runs and hands them here, so the whole path reads through this package:

- `events`: the `import.completed` event of an ended run, recorded once per run in the store;
- `payloads`: the event's body;
- `leases`: which due events a tick claims, and for how long;
- `dispatch`: the background event loop that runs the claimed attempts and records them;
- `delivery`: one attempt (bounded, never raises) and the retry schedule;
- `signing`: the Standard Webhooks headers; `ssrf`: which addresses may be contacted.

Nothing here imports Dagster: the `WebhookDelivery` resource that configures it lives in
`orchestration.resources`.
"""

from orchestration.webhooks.delivery import (
    MAX_ATTEMPTS,
    AttemptResult,
    DeliveryJob,
    Outcome,
    deliver,
    deliver_all,
    new_client,
    next_retry_delay,
)
from orchestration.webhooks.signing import signed_headers
from orchestration.webhooks.ssrf import BlockedDestination, Target, resolve_target

__all__ = [
    "MAX_ATTEMPTS",
    "AttemptResult",
    "BlockedDestination",
    "DeliveryJob",
    "Outcome",
    "Target",
    "deliver",
    "deliver_all",
    "new_client",
    "next_retry_delay",
    "resolve_target",
    "signed_headers",
]
