"""Rotating the signing keys on request, audited (``POST /api/v1/keys/rotate``)."""

from __future__ import annotations

from typing import Any

from emms_identity.audit import Actor, record
from emms_identity.runtime import IdentityRuntime


async def rotate(rt: IdentityRuntime, actor: Actor) -> dict[str, Any]:
    rotation = await rt.keyring.rotate()
    until = rt.now() + rt.keyring.retirement_window if rotation.retired else None
    async with rt.pool.acquire() as conn:
        await record(conn, actor, "key.rotate", target=rotation.active,
                     detail={"retired": rotation.retired, "active": rotation.active, "next": rotation.next,
                             "retired_published_until": until})
    return {"retired": rotation.retired, "active": rotation.active, "next": rotation.next,
            "retired_published_until": until}
