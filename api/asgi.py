"""The ASGI app uvicorn serves: the Litestar app inside two guards Litestar's routing cannot give,
because its middleware only runs once a route matched.

- `HEAD` on a `GET` route answers as `GET` would, headers included, without the body.
- A client that sends its headers and then stalls the body is answered 408 and dropped once no
  part of the body arrived for `body_idle_timeout_s`, instead of holding a connection forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar
from litestar.exceptions import HTTPException

from api.app import create_app
from core.settings import Settings

# Plain ASGI: messages are dicts (Litestar's TypedDicts type one side of the protocol each).
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class BodyStalled(HTTPException):
    status_code = 408


class ServerGuards:
    def __init__(self, app: ASGIApp, body_idle_timeout_s: float) -> None:
        self.app = app
        self.body_idle_timeout_s = body_idle_timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        await self.app(scope, self._timed(receive), send)

    def _timed(self, receive: Receive) -> Receive:
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # later receives wait for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout(self.body_idle_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise BodyStalled(
                    detail=f"No part of the request body arrived for "
                    f"{self.body_idle_timeout_s:g} s; nothing was processed."
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return timed_receive


def _without_body(send: Send) -> Send:
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_head


def create_asgi_app(settings: Settings | None = None) -> ServerGuards:
    """`uvicorn --factory api.asgi:create_asgi_app`."""
    settings = settings or Settings()
    app: Litestar = create_app(settings)
    return ServerGuards(app, settings.body_idle_timeout_seconds)  # type: ignore[arg-type]


__all__ = ["ServerGuards", "create_asgi_app"]
