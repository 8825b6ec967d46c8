"""Signatures of outbound webhooks: HMAC-SHA256 over ``"<timestamp>.<body>"``.

Header ``X-EMMS-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`` — one ``v1`` per secret in force: the
current one, and during a rotation's overlap also the previous one, so a receiver that still knows only
the old secret (or already only the new one) accepts the delivery. A receiver checks that one ``v1``
matches one of its secrets and that ``t`` is recent (replay protection); :func:`verify` does both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

HEADER = "X-EMMS-Signature"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header(secrets_in_force: Iterable[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_in_force)])


def verify(value: str, body: bytes, known: Iterable[str], *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """True when ``value`` (the header) signs ``body`` with one of ``known`` secrets within ``tolerance_s``."""
    parts = [p.split("=", 1) for p in value.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    given = [v for k, v in parts if k == "v1"]
    return any(hmac.compare_digest(signature(s, timestamp, body), g) for s in known for g in given)
