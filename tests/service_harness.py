"""Run one service's FastAPI app in the test's event loop: its whole lifespan (pool, migrations,
bus, workers) and an HTTP client on the app carrying a token of the given role.

    async with in_process(create_app(settings), "http://fep") as (app, state, client): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import FastAPI

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings


class FreshBearer(Mapping[str, str]):
    """Headers whose bearer token is minted when they are read, not when the module is imported.

    A step-up token is only good for ``step_up_ttl_s`` (300 s) after its ``auth_time``: a module-level
    ``HEADERS = token(...)`` goes stale before its tests run in a long suite. This mapping signs a new token
    each time httpx copies the headers, so every request carries a fresh one."""

    def __init__(self, subject: str, role: str, **claims: Any) -> None:
        self._args = (subject, role)
        self._claims = claims

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(AuthSettings(), *self._args, **self._claims)}"}

    def __getitem__(self, key: str) -> str:
        return self._headers()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("Authorization",))

    def __len__(self) -> int:
        return 1

    def items(self):  # type: ignore[override]  # one signature per read, not one per key
        return self._headers().items()


@contextlib.asynccontextmanager
async def in_process(app: FastAPI, base_url: str, *, role: str = "viewer",
                     ) -> AsyncIterator[tuple[FastAPI, Any, httpx.AsyncClient]]:
    """The app started, its domain state (``rt.state``) and a client with a bearer token of ``role``."""
    async with app.router.lifespan_context(app):
        token = issue_token(AuthSettings(), "tester", role)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            yield app, app.state.runtime.state, client


def area_topics(kafka_settings: KafkaSettings, area: str) -> KafkaSettings:
    """The session's broker settings with topics of this test area's own (prefix + ``<area>.``):
    tests that read a whole topic from its start then see only what their own area published,
    whatever order pytest runs the areas in."""
    settings = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}{area}."})
    asyncio.run(ensure_topics(settings))
    return settings


async def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float) -> None:
    """Poll ``condition()`` every ``poll_s`` until it holds; TimeoutError after ``timeout_s``."""
    for _ in range(max(1, int(timeout_s / poll_s))):
        if condition():
            return
        await asyncio.sleep(poll_s)
    if not condition():
        raise TimeoutError(f"condition not met within {timeout_s} s")


def own_database(session_url: str, tag: str) -> Iterator[str]:
    """A database of one module's own beside the session's, on the same server, dropped after it: for a
    module whose truth is "everything of these meters" while other modules' simulated fleets reuse the
    simulator's meter ids in the session database."""
    url = urlunsplit(urlsplit(session_url)._replace(path=f"{urlsplit(session_url).path}_{tag}_{secrets.token_hex(2)}"))
    asyncio.run(ensure_database(url))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))
