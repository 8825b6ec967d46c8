"""Opaque keyset cursors: the sort key of the last row of a page, as URL-safe base64 JSON.

Paging by key (not offset) keeps every page as fast as the first and stable while rows are
being added. A cursor that does not decode is the caller's error (400), never a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    pass


def encode(key: list[Any]) -> str:
    raw = json.dumps(key, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("the cursor is not one this API issued") from None
    if not isinstance(key, list) or len(key) != arity:
        raise BadCursor("the cursor does not belong to this query")
    return key
