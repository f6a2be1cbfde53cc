"""Completion webhook delivery: Standard Webhooks signing, SSRF checks, bounded attempts."""

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
