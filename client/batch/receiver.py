"""Waiting by webhook: a local HTTP server that counts verified `import.completed` deliveries."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CompletionReceiver:
    """A local HTTP server for `import.completed` webhooks; only verified deliveries count."""

    def __init__(self, secret: str, host: str, port: int) -> None:
        from standardwebhooks import Webhook

        self._verifier = Webhook(secret)
        self._completed: set[str] = set()
        self._arrived = threading.Condition()
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    payload = receiver._verifier.verify(body, headers)
                except Exception:  # any failure to verify is a rejection, whatever its type
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    receiver.record(payload)
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/oliai/import-completed"

    def record(self, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("event") == "import.completed":
            with self._arrived:
                self._completed.add(str(payload.get("importId")))
                self._arrived.notify_all()

    def wait_for(self, import_id: str, timeout_s: float) -> bool:
        with self._arrived:
            return self._arrived.wait_for(lambda: import_id in self._completed, timeout_s)

    def __enter__(self) -> CompletionReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
