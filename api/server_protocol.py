"""The HTTP/1.1 protocol uvicorn serves the API with: its own, except for requests its parser
cannot take, which are answered with an RFC 9457 problem like every other error instead of
uvicorn's `text/plain` line:

- a request the parser rejects (control characters in a header, `Content-Length: -1`) is 400
  `malformed-request`;
- a request line plus headers over `MAX_REQUEST_HEAD_BYTES` is 431 `request-head-too-large`,
  whatever way the bytes arrive. h11 alone enforces its limit only on a head still incomplete
  after a read, so the same 100 KB URL was served or refused depending on TCP segmentation.

A refused connection is closed gracefully: the answer is written, the write side shut, and what
the client still sends is read and dropped until it closes (or `LINGER_S` passes). Closing with
unread bytes would make the kernel reset the connection, and the client could lose the answer.

`oliai up` passes it to uvicorn as `--http api.server_protocol:ProblemH11Protocol`.
"""

from __future__ import annotations

import re
from typing import Any

import h11
import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import PROBLEM_BASE

MAX_REQUEST_HEAD_BYTES = 64 * 1024
LINGER_S = 5.0
_HEAD_END = re.compile(rb"\n\r?\n")  # the blank line that ends a head, as h11 finds it


def _refusal(status: int, reason: str, slug: str, title: str, detail: str) -> bytes:
    body = msgspec.json.encode(
        {"status": status, "type": PROBLEM_BASE + slug, "title": title, "detail": detail}
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


MALFORMED_REQUEST = _refusal(
    400,
    "Bad Request",
    "malformed-request",
    "Malformed HTTP request",
    "The request is not valid HTTP/1.1 (its request line or headers could not be parsed); "
    "nothing was processed.",
)
REQUEST_HEAD_TOO_LARGE = _refusal(
    431,
    "Request Header Fields Too Large",
    "request-head-too-large",
    "Request line and headers too large",
    f"The request line and headers together are over {MAX_REQUEST_HEAD_BYTES // 1024} KiB; "
    "nothing was processed.",
)


def head_too_large(buffered: bytes) -> bool:
    """Whether `buffered`, the start of a request, holds more head than allowed."""
    return (
        len(buffered) > MAX_REQUEST_HEAD_BYTES
        and _HEAD_END.search(buffered, 0, MAX_REQUEST_HEAD_BYTES + 3) is None
    )


class ProblemH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.conn.their_state is h11.IDLE and head_too_large(self.conn.trailing_data[0] + data):
            self._refuse(REQUEST_HEAD_TOO_LARGE)
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self._refuse(MALFORMED_REQUEST)

    def _refuse(self, answer: bytes) -> None:
        self._refused = True
        self._unset_keepalive_if_required()
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
