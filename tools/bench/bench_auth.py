"""What access costs: token verification per request, and a password check at sign-in.

* **verify** — ``TokenVerifier.verify`` of an EdDSA access token seen for the first time, key
  cached (header, signature, claims, ``Principal``), against the limit taken in the same run: the
  bare Ed25519 signature check (``cryptography``); and of a token seen before (remembered until
  its expiry — what a system reusing its token pays on every later request).
* **require** — a whole request through FastAPI with ``require(Permission.READINGS_READ)`` vs the
  same route without it (in-process ASGI), to show the share of a request the access check takes.
* **argon2id** — one password hash / verification at the identity service's default cost
  (time 3, memory 64 MiB, lanes 4): the sign-in price, and so the guessing price.

    .venv/bin/python tools/bench/bench_auth.py      (EMMS_BENCH_AUTH_SECONDS=1.5 per figure)
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
from fastapi import FastAPI

from emms_runtime.auth import Permission, Principal, SigningKey, TokenVerifier, issue_token, require
from emms_runtime.auth.quotas import RateLimiter
from emms_runtime.settings import AuthSettings

SECONDS = float(os.environ.get("EMMS_BENCH_AUTH_SECONDS", "1.5"))


def _rate(fn: Callable[[], Any], seconds: float = SECONDS) -> float:
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / (time.perf_counter() - started)


def _verify_rates() -> tuple[float, float, float]:
    cold_settings = AuthSettings(accept_dev_tokens=True, verified_cache_size=0)
    token = issue_token(cold_settings, "bench", "operator")
    loop = asyncio.new_event_loop()
    cold = TokenVerifier(cold_settings)
    verified = _rate(lambda: loop.run_until_complete(cold.verify(token)))
    warm = TokenVerifier(AuthSettings(accept_dev_tokens=True))
    remembered = _rate(lambda: loop.run_until_complete(warm.verify(token)))
    loop.close()
    key = SigningKey.generate()
    signed = key.sign({"sub": "x"})
    head, body, sig = signed.split(".")
    raw_sig = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    public = key.private_key.public_key()
    message = f"{head}.{body}".encode()
    bare = _rate(lambda: public.verify(raw_sig, message))
    return verified, remembered, bare


def _app(with_check: bool) -> FastAPI:
    app = FastAPI()
    settings = AuthSettings(accept_dev_tokens=True, enforce_quotas=False)
    app.state.auth_settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.rate_limiter = RateLimiter()
    app.state.access_audit = []
    if with_check:
        @app.get("/r")
        async def checked(p: Annotated[Principal, require(Permission.READINGS_READ)]) -> dict[str, str]:
            return {"s": p.subject}
    else:
        @app.get("/r")
        async def open_route() -> dict[str, str]:
            return {"s": "x"}
    return app


async def _requests_per_s(with_check: bool) -> float:
    token = issue_token(AuthSettings(), "bench", "operator")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(with_check)), base_url="http://b",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < SECONDS:
            await asyncio.gather(*(client.get("/r") for _ in range(20)))
            n += 20
        return n / (time.perf_counter() - started)


def _argon2_ms() -> tuple[float, float]:
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    hasher = PasswordHasher(time_cost=3, memory_cost=65_536, parallelism=4, type=Type.ID)
    started = time.perf_counter()
    stored = [hasher.hash("a-long-Passphrase-9") for _ in range(5)][-1]
    hash_ms = (time.perf_counter() - started) / 5 * 1000
    started = time.perf_counter()
    for _ in range(5):
        hasher.verify(stored, "a-long-Passphrase-9")
    return hash_ms, (time.perf_counter() - started) / 5 * 1000


def run() -> list[dict[str, object]]:
    verified, remembered, bare = _verify_rates()
    checked = asyncio.run(_requests_per_s(True))
    plain = asyncio.run(_requests_per_s(False))
    hash_ms, verify_ms = _argon2_ms()
    return [
        {"benchmark": "auth", "metric": "token verify (EdDSA, key cached)", "value": verified, "unit": "tokens/s",
         "target": "", "note": f"{verified / bare:.0%} of the bare Ed25519 check ({bare:,.0f}/s), one core"},
        {"benchmark": "auth", "metric": "token verify, seen before (remembered)", "value": remembered,
         "unit": "tokens/s", "target": "", "note": f"{remembered / verified:.1f}x a first verification"},
        {"benchmark": "auth", "metric": "request with require()", "value": checked, "unit": "req/s",
         "target": "", "note": f"{checked / plain:.0%} of the same route without the check ({plain:,.0f}/s)"},
        {"benchmark": "auth", "metric": "argon2id hash (t=3, 64 MiB, p=4)", "value": hash_ms, "unit": "ms",
         "target": "", "note": f"verify {verify_ms:.0f} ms: the sign-in cost per attempt"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
