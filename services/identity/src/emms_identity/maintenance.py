"""Housekeeping: refresh tokens a day past their expiry are forgotten (their families cannot be
replayed any more: an unknown token is refused like an expired one)."""

from __future__ import annotations

from datetime import timedelta

import structlog

from emms_identity.repository import refresh_tokens
from emms_identity.runtime import IdentityRuntime

log = structlog.get_logger("emms.identity")


async def purge_expired_refresh_tokens(rt: IdentityRuntime) -> int:
    async with rt.pool.acquire() as conn:
        purged = await refresh_tokens.purge_expired(conn, rt.now() - timedelta(days=1))
    if purged:
        log.info("expired refresh tokens purged", count=purged)
    return purged
