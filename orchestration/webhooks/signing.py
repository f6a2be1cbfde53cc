"""Standard Webhooks signing: the three signature headers of one attempt."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from standardwebhooks import Webhook


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
