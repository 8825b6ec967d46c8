"""The interface in the test's event loop with the owners it calls — the archive and control, real apps on
the real database and broker, reached through ASGI transports — and a real HTTP receiver of webhooks on a
loopback socket that can be taken down and brought back."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from emms_devstack.ports import free_port
from emms_interface.webhooks import signing


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1:<port>: records every delivery; refuses connections while down."""

    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ok = signing.verify(headers.get(signing.HEADER.lower(), ""), body, self.secrets)
        if ok:
            self.deliveries.append({"headers": headers, "body": json.loads(body)})
        else:
            self.bad_signatures += 1
        await send({"type": "http.response.start", "status": 200 if ok else 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def up(self) -> None:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110  (uvicorn offers no event)
            await asyncio.sleep(0.02)

    async def down(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    def event_ids(self) -> list[str]:
        return [d["body"]["event_id"] for d in self.deliveries]


async def eventually(check: Any, timeout_s: float = 30.0, poll_s: float = 0.1) -> Any:
    last = None
    for _ in range(int(timeout_s / poll_s)):
        last = await check()
        if last:
            return last
        await asyncio.sleep(poll_s)
    raise AssertionError(f"condition not met in {timeout_s} s (last: {last!r})")
