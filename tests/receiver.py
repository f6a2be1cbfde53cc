"""A real webhook receiver on 127.0.0.1 that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Receipt:
    received_at: float
    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool


@dataclass
class WebhookReceiver:
    secret: str
    receipts: list[Receipt] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/import-done"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(raw, headers)
                    verified = True
                except Exception:
                    verified = False
                self.send_response(200 if verified else 400)
                self.send_header("content-length", "0")
                self.end_headers()
                with receiver._arrived:
                    receiver.receipts.append(
                        Receipt(time.time(), headers, json.loads(raw), verified)
                    )
                    receiver._arrived.notify_all()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Receipt]:
        """Wait until at least `count` webhooks arrived; returns them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.receipts) >= count, timeout=timeout_s)
            assert len(self.receipts) >= count, f"{len(self.receipts)} of {count} webhooks arrived"
            return list(self.receipts)

    def wait_until(
        self, what: str, done: Callable[[list[Receipt]], bool], timeout_s: float = 30.0
    ) -> list[Receipt]:
        """Wait until `done(receipts so far)`; returns them all. Fails naming `what`."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: done(list(self.receipts)), timeout=timeout_s)
            assert arrived, f"not within {timeout_s:.0f} s: {what} ({len(self.receipts)} arrived)"
            return list(self.receipts)
