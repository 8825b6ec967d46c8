"""Refuse, before any route sees it, text no service can store: NUL characters and lone surrogates.

PostgreSQL's ``text`` cannot hold U+0000, and UTF-8 cannot encode a lone UTF-16 surrogate
(``"\\ud800"`` is valid JSON, and Python decodes it to a ``str`` that asyncpg then fails to
encode): either, reaching a query, used to be a 500. Found by the API fuzzer (``tests/fuzz``):
``%00`` in a path or query string, ``\\u0000`` or an unpaired ``\\ud800``-``\\udfff`` escape in a
JSON body, ``%00`` in a form body. Such a request is answered 422 with the body of every request
validation failure (``{"detail": ..., "errors": [{"loc", "msg", "type"}]}``) naming where it was.

A pure ASGI middleware: bodies are read (and replayed to the app unchanged) only for JSON and form
content types, which the app would read whole anyway; other bodies pass untouched. A service whose
routes answer in a format a standard fixes and check their own text (the OAuth2 token endpoint's
RFC 6749 errors) names those paths in ``ServiceSpec.own_body_checks``: their bodies pass on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_ESCAPE = re.compile(rb"\\(?:\\|u([0-9a-fA-F]{4}))")
_NUL_ENCODED = b"%00"


def json_text_fault(body: bytes) -> str | None:
    """Why a JSON text's strings cannot be stored (a NUL, a lone surrogate), or ``None``."""
    if b"\x00" in body:
        return "a NUL byte (U+0000) is not accepted"
    if b"\\u" not in body:
        return None
    pending_high = -1  # end offset of a high surrogate escape waiting for its low half
    for match in _JSON_ESCAPE.finditer(body):
        digits = match.group(1)
        code = int(digits, 16) if digits is not None else -1
        paired = pending_high == match.start()
        if pending_high >= 0 and not (paired and 0xDC00 <= code <= 0xDFFF):
            return "a lone UTF-16 surrogate (\\ud800-\\udbff without its low half) is not accepted"
        pending_high = -1
        if code == 0:
            return "a NUL character (\\u0000) is not accepted"
        if 0xD800 <= code <= 0xDBFF:
            pending_high = match.end()
        elif 0xDC00 <= code <= 0xDFFF and not paired:
            return "a lone UTF-16 surrogate (\\udc00-\\udfff without its high half) is not accepted"
    if pending_high >= 0:
        return "a lone UTF-16 surrogate (\\ud800-\\udbff without its low half) is not accepted"
    return None


def _content_type(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return b""


def _is_json(content_type: bytes) -> bool:
    return content_type == b"application/json" or content_type.endswith(b"+json")


async def _refuse(send: Send, where: str, why: str) -> None:
    body = json.dumps({"detail": "request validation failed",
                       "errors": [{"loc": [where], "msg": why, "type": "value_error"}]}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RequestHygiene:
    """``app.add_middleware(RequestHygiene)``: 422 for NULs and lone surrogates anywhere in a request."""

    def __init__(self, app: ASGIApp, own_body_checks: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.own_body_checks = own_body_checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
        if _NUL_ENCODED in raw_path or b"\x00" in raw_path or "\x00" in scope.get("path", ""):
            await _refuse(send, "path", "a NUL character (%00) is not accepted")
            return
        if _NUL_ENCODED in scope.get("query_string", b""):
            await _refuse(send, "query", "a NUL character (%00) is not accepted")
            return
        content_type = _content_type(scope)
        is_form = content_type == b"application/x-www-form-urlencoded"
        if not (_is_json(content_type) or is_form) or scope.get("path") in self.own_body_checks:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        why = ("a NUL character (%00) is not accepted" if _NUL_ENCODED in body or b"\x00" in body else None) \
            if is_form else json_text_fault(body)
        if why is not None:
            await _refuse(send, "body", why)
            return
        await self.app(scope, _replay([body], None, receive), send)


def _replay(bodies: list[bytes], then: Message | None, receive: Receive) -> Receive:
    """A ``receive`` giving the body read already, then (or ``then``) what the client sends next."""
    pending: list[Message] = [{"type": "http.request", "body": b"".join(bodies), "more_body": False}] if bodies \
        else []
    if then is not None:
        pending.append(then)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
