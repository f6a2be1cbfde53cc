"""No cookie is ever stored or sent by webhook deliveries: one shared client delivers for every
organization, so a receiver's Set-Cookie must not reach the next receiver on the same host."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.control_store.organizations import new_secret
from orchestration.webhooks import Outcome, deliver, new_client, signed_headers

pytestmark = pytest.mark.integration


class CookieSettingReceiver(ThreadingHTTPServer):
    """Answers every POST 200 with a Set-Cookie naming its path, and records Cookie headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CookieHandler)
        self.cookie_headers: list[str | None] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class CookieHandler(BaseHTTPRequestHandler):
    server: CookieSettingReceiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.cookie_headers.append(self.headers.get("cookie"))
        org = self.path.strip("/").replace("/", "-")
        self.send_response(200)
        # Host-wide, long-lived, as a hostile or careless receiver would set it.
        self.send_header("set-cookie", f"session={org}; Path=/; Max-Age=86400")
        self.send_header("set-cookie", f"tenant={org}; Path=/; Domain=127.0.0.1")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[CookieSettingReceiver]:
    server = CookieSettingReceiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_receivers_cookie_never_reaches_another_organizations_receiver(
    receiver: CookieSettingReceiver,
) -> None:
    deliveries = [("/org-a/hooks", new_secret()), ("/org-b/hooks", new_secret())] * 2

    async def deliver_in_turn() -> list[Outcome]:
        outcomes = []
        async with new_client() as client:
            for number, (path, secret) in enumerate(deliveries):
                body = b'{"event":"import.completed"}'
                headers = signed_headers(secret, f"msg_{number}", datetime.now(UTC), body)
                result = await deliver(
                    client, receiver.url(path), body, headers, allow_private=True
                )
                outcomes.append(result.outcome)
            assert len(client.cookies.jar) == 0, "the shared client stored a cookie"
        return outcomes

    assert asyncio.run(deliver_in_turn()) == [Outcome.DELIVERED] * len(deliveries)
    assert receiver.cookie_headers == [None] * len(deliveries)
