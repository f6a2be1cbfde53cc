"""Signing must interoperate with any Standard Webhooks library (here: the reference one)."""

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.control_store.organizations import new_secret
from orchestration.webhooks import signed_headers


def test_new_secret_is_whsec_base64_of_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert new_secret() != secret


def test_known_answer_from_the_standard_webhooks_examples() -> None:
    headers = signed_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC),
        b'{"test": 2432232314}',
    )
    assert headers == {
        "content-type": "application/json",
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


@pytest.mark.parametrize("tz", [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))])
def test_headers_verify_whatever_the_timestamp_zone(tz: timezone) -> None:
    secret = new_secret()
    body = '{"event":"import.completed","data":{"name":"Zoë"}}'.encode()
    now = datetime.now(tz)
    headers = signed_headers(secret, "msg_1", now, body)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(body, headers) == {
        "event": "import.completed",
        "data": {"name": "Zoë"},
    }


def test_tampered_body_or_other_secret_fails_verification() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1", datetime.now(UTC), b'{"n":1}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"n":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(b'{"n":1}', headers)


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signed_headers(new_secret(), "msg_1", datetime(2024, 1, 1), b"{}")
