"""The HTTP/1.1 protocol uvicorn serves the API with: its own, except that a request the parser
rejects (control characters in a header, `Content-Length: -1`, a 100 KB request line) is answered
with an RFC 9457 problem like every other error, not uvicorn's `text/plain` line.

`oliai up` passes it to uvicorn as `--http api.server_protocol:ProblemH11Protocol`.
"""

from __future__ import annotations

import h11
import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import PROBLEM_BASE

BAD_REQUEST_PROBLEM = msgspec.json.encode(
    {
        "status": 400,
        "type": PROBLEM_BASE + "malformed-request",
        "title": "Malformed HTTP request",
        "detail": "The request is not valid HTTP/1.1 (its request line or headers could not be "
        "parsed, or they are too long); nothing was processed.",
    }
)


class ProblemH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(BAD_REQUEST_PROBLEM)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=BAD_REQUEST_PROBLEM),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
