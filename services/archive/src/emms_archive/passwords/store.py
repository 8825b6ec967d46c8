"""SQL of terminal passwords: the sealed PW of each terminal and its changes, audited and published.

A change writes, in the caller's transaction: the ``terminal_password`` row (version + 1), an
audit row that says *that* the password changed (version, how, by whom; never the PW, not even
sealed) and an outbox row whose ``sealed`` column carries the sealed PW to the bus
(``MasterDataChange(entity="terminal_password")``, ``data.password_sealed``); the relay clears it
once published.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from emms_archive import audit
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.address import Address

ENTITY = "terminal_password"
SEALED_FIELD = "password_sealed"
_KEY = re.compile(r"^[0-9A-Fa-f]{4}-\d{1,5}$")
_VENDOR_HEX = re.compile(r"^[0-9A-Fa-f]{8}$")


def session_key(address: object) -> str | None:
    """The FEP's key of a terminal address (``"3701-00012"``, or the vendor form ``"3701000C"``), as the FEP
    reads it (``emms_fep.masterdata.terminal_key``); None for an address in neither form."""
    if not isinstance(address, str):
        return None
    text = address.strip()
    try:
        if _KEY.match(text):
            return Address.parse(text).key
        if _VENDOR_HEX.match(text):
            return Address(int(text[:4], 16), int(text[4:], 16)).key
    except ProtocolError:
        return None
    return None


async def status(conn: Connection, terminal_id: str) -> dict[str, Any]:
    """What may be shown of a terminal's password: whether it has one, its version, when and how it was
    set, and its latest rotations. Never the password."""
    row = await conn.fetchrow(f"SELECT version, how, set_at, set_by FROM {SCHEMA}.terminal_password"
                              f" WHERE terminal_id = $1", terminal_id)
    rotations = await conn.fetch(
        f"SELECT rotation_id, request_id, state, outcome, detail, from_version, to_version, requested_by,"
        f" requested_at, completed_at FROM {SCHEMA}.terminal_password_rotation WHERE terminal_id = $1"
        f" ORDER BY requested_at DESC LIMIT 10", terminal_id)
    return {"terminal_id": terminal_id, "has_password": row is not None,
            "version": row["version"] if row else 0, "how": row["how"] if row else None,
            "set_at": row["set_at"] if row else None, "set_by": row["set_by"] if row else None,
            "rotations": [{**dict(r), "rotation_id": str(r["rotation_id"])} for r in rotations]}


async def current_version(conn: Connection, terminal_id: str) -> int:
    return int(await conn.fetchval(f"SELECT version FROM {SCHEMA}.terminal_password WHERE terminal_id = $1",
                                   terminal_id) or 0)


async def current_sealed(conn: Connection, terminal_id: str) -> str | None:
    value = await conn.fetchval(f"SELECT sealed FROM {SCHEMA}.terminal_password WHERE terminal_id = $1",
                                terminal_id)
    return None if value is None else str(value)


async def unchanged(conn: Connection, unseal: Callable[[str], bytes], terminal_id: str, password: bytes) -> int | None:
    """The current version when the terminal's password already is ``password`` (setting it again changes
    nothing: no version, no audit row, no message), else None."""
    row = await conn.fetchrow(f"SELECT sealed, version FROM {SCHEMA}.terminal_password WHERE terminal_id = $1",
                              terminal_id)
    if row is None:
        return None
    try:
        same = hmac.compare_digest(unseal(row["sealed"]), password)
    except ValueError:  # sealed under a key no longer held: store the new one
        return None
    return int(row["version"]) if same else None


async def put(conn: Connection, terminal: dict[str, Any], sealed: str, *, actor: str, how: str,
              note: str | None = None) -> int:
    """Store ``sealed`` as the terminal's password (inside the caller's transaction); the new version."""
    terminal_id = str(terminal["id"])
    old = await conn.fetchval(f"SELECT version FROM {SCHEMA}.terminal_password WHERE terminal_id = $1 FOR UPDATE",
                              terminal_id)
    version = int(old or 0) + 1
    await conn.execute(
        f"INSERT INTO {SCHEMA}.terminal_password (terminal_id, sealed, version, how, set_at, set_by)"
        f" VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (terminal_id) DO UPDATE SET sealed = EXCLUDED.sealed,"
        f" version = EXCLUDED.version, how = EXCLUDED.how, set_at = now(), set_by = EXCLUDED.set_by",
        terminal_id, sealed, version, how, actor)
    after = {"terminal_id": terminal_id, "address": terminal.get("address"), "company_id": terminal.get("company_id"),
             "region_id": terminal.get("region_id"), "version": version, "how": how, "password": "changed"}
    before = None if old is None else {**after, "version": int(old), "how": None}
    change = await audit.record(conn, actor=actor, entity=ENTITY, entity_id=terminal_id,
                                action="created" if old is None else "updated", before=before, after=after,
                                note=note, publish=False)
    await conn.execute(f"INSERT INTO {SCHEMA}.outbox (change_id, sealed) VALUES ($1, $2::jsonb)",
                       change.change_id, json.dumps({SEALED_FIELD: sealed}))
    return version


async def note(conn: Connection, terminal: dict[str, Any], *, actor: str, action: str,
               detail: dict[str, Any]) -> None:
    """An audit row about a terminal's password that changes nothing on the bus (a rotation asked for,
    failed); ``detail`` never holds the password."""
    image = {"terminal_id": terminal["id"], "company_id": terminal.get("company_id"),
             "region_id": terminal.get("region_id"), **detail}
    await audit.record(conn, actor=actor, entity=ENTITY, entity_id=str(terminal["id"]), action=action,
                       after=image, publish=False)
