"""Standard Webhooks signing: per-organization secrets and the three signature headers."""

from __future__ import annotations

import base64
import math
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook


def new_secret() -> str:
    """A fresh signing secret in the `whsec_<base64>` form every Standard Webhooks library reads."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def signed_headers(
    secret: str, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """Headers for one attempt; sign again per attempt so the timestamp stays fresh.

    `message_id` must stay the same across attempts: receivers de-duplicate on it.
    """
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    # Webhook.sign replaces tzinfo instead of converting, so hand it UTC.
    utc = timestamp.astimezone(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(math.floor(utc.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, utc, body.decode("utf-8")),
    }
