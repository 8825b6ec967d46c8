"""Terminal passwords (the 1376.1 PW of each terminal): set, import, rotate, and what may be shown of them.

* ``PUT /api/v1/terminal-passwords/{terminal_id}`` ``{"password_hex": "<32 hex>"}`` — record the PW the
  terminal expects (commissioning, a terminal replaced); master-data editors.
* ``POST /api/v1/terminal-passwords/import`` ``[{"terminal_id", "password_hex"}, …]`` — a batch from a
  source system, all or nothing; importers.
* ``POST /api/v1/terminal-passwords/{terminal_id}/rotations`` ``{"password_hex"?}`` — send a new PW
  (random unless given) to the terminal; master data switches on its confirm (202; step-up
  ``control:send``: it is a command to a device).
* ``GET /api/v1/terminal-passwords/{terminal_id}`` — whether it has one, version, how and when set,
  the latest rotations. The password is write-only: no response ever carries it, and no log line
  or audit row (the audit records *that* it changed).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from emms_archive.api.deps import Archive, Conn, Importer, MasterReader, Writer
from emms_archive.masterdata import repository
from emms_archive.masterdata.entities import ENTITIES
from emms_archive.passwords import rotation, store
from emms_archive.passwords.sealing import generate, parse_hex
from emms_archive.runtime import ArchiveRuntime
from emms_archive.scope import Scope
from emms_runtime import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Permission,
    Principal,
    Unavailable,
    require,
)

router = APIRouter(prefix="/api/v1", tags=["terminal-passwords"])
TERMINAL = ENTITIES["terminal"]
Rotator = Annotated[Principal, require(Permission.CONTROL_SEND)]
"""Rotating a terminal's password sends it a command: an operator with a fresh password check."""
IMPORT_MAX = 20_000


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password_hex: str = Field(description="the 16-byte PW as 32 hexadecimal digits; write-only",
                              json_schema_extra={"writeOnly": True})


class RotationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password_hex: str | None = Field(default=None, description="the new PW (32 hex digits); random when absent",
                                     json_schema_extra={"writeOnly": True})


class RotationView(BaseModel):
    rotation_id: str
    request_id: str
    state: str
    outcome: str | None = None
    detail: str | None = None
    from_version: int
    to_version: int | None = None
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None = None


class PasswordStatus(BaseModel):
    terminal_id: str
    has_password: bool
    version: int
    how: str | None = None
    set_at: datetime | None = None
    set_by: str | None = None
    rotations: list[RotationView] = Field(default_factory=list)


class PasswordSet(BaseModel):
    terminal_id: str
    version: int


class PasswordsImported(BaseModel):
    count: int
    versions: dict[str, int]


class RotationStarted(BaseModel):
    rotation_id: str
    request_id: str
    terminal_id: str
    terminal: str
    state: str
    from_version: int
    expires_at: datetime


async def _terminal(conn: Any, terminal_id: str, principal: Principal) -> dict[str, Any]:
    row = await repository.get(conn, TERMINAL, (terminal_id,), Scope.of(principal))
    if row is not None:
        return row
    if await repository.get(conn, TERMINAL, (terminal_id,)) is not None:
        raise Forbidden(f"terminal {terminal_id} is outside your data scope")
    raise NotFound(f"no terminal {terminal_id}")


def _sealing(archive: ArchiveRuntime) -> None:
    if not archive.sealer.enabled:
        raise Unavailable("terminal passwords cannot be kept: set EMMS_ARCHIVE_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY"
                          " or …_FILE (the FEP's key-encryption key)")


def _password(text: object, where: str = "password_hex") -> bytes:
    try:
        return parse_hex(text)
    except ValueError as exc:
        raise Invalid(f"{where}: {exc}") from None


@router.get("/terminal-passwords/{terminal_id}", response_model=PasswordStatus,
            summary="Whether a terminal has its own password, its version and rotations (never the password)")
async def password_status(terminal_id: str, principal: MasterReader, conn: Conn) -> dict[str, Any]:
    await _terminal(conn, terminal_id, principal)
    return await store.status(conn, terminal_id)


@router.put("/terminal-passwords/{terminal_id}", response_model=PasswordSet,
            summary="Record the password a terminal expects (write-only; audited as changed, never shown)")
async def set_password(terminal_id: str, body: PasswordBody, principal: Writer, conn: Conn,
                       archive: Archive) -> dict[str, Any]:
    _sealing(archive)
    terminal = await _terminal(conn, terminal_id, principal)
    password = _password(body.password_hex)
    async with conn.transaction():
        version = await store.unchanged(conn, archive.sealer.unseal, terminal_id, password)
        if version is None:
            version = await store.put(conn, terminal, archive.sealer.seal(password), actor=principal.subject,
                                      how="set")
    archive.outbox.poke()
    return {"terminal_id": terminal_id, "version": version}


@router.post("/terminal-passwords/import", response_model=PasswordsImported,
             summary="Import terminal passwords, all or nothing (each row: terminal_id, password_hex)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "array", "items": {"type": "object", "properties": {
                     "terminal_id": {"type": "string"}, "password_hex": {"type": "string", "writeOnly": True}},
                     "required": ["terminal_id", "password_hex"]}}}}}})
async def import_passwords(request: Request, principal: Importer, conn: Conn, archive: Archive) -> dict[str, Any]:
    _sealing(archive)
    rows = await _import_rows(request)
    reasons: list[str] = []
    seen: set[str] = set()
    planned: list[tuple[dict[str, Any], bytes]] = []
    for n, row in enumerate(rows, start=1):
        terminal_id = row.get("terminal_id")
        if not isinstance(terminal_id, str) or not terminal_id:
            reasons.append(f"row {n}: terminal_id must be a non-empty string")
            continue
        if terminal_id in seen:
            reasons.append(f"row {n}: terminal {terminal_id} appears twice")
            continue
        seen.add(terminal_id)
        unknown = sorted(set(row) - {"terminal_id", "password_hex"})
        if unknown:
            reasons.append(f"row {n}: unknown field(s) {unknown}")
        try:
            password = parse_hex(row.get("password_hex"))
        except ValueError as exc:
            reasons.append(f"row {n}: {exc}")
            continue
        try:
            terminal = await _terminal(conn, terminal_id, principal)
        except (NotFound, Forbidden) as exc:
            reasons.append(f"row {n}: {exc.reason}")
            continue
        planned.append((terminal, password))
    if reasons:
        raise Invalid("terminal passwords refused, nothing imported: " + "; ".join(reasons[:50]))
    versions: dict[str, int] = {}
    async with conn.transaction():  # a PW a terminal already has is left as it is (importing twice changes nothing)
        for terminal, password in planned:
            terminal_id = str(terminal["id"])
            version = await store.unchanged(conn, archive.sealer.unseal, terminal_id, password)
            if version is None:
                version = await store.put(conn, terminal, archive.sealer.seal(password), actor=principal.subject,
                                          how="import")
            versions[terminal_id] = version
    archive.outbox.poke()
    return {"count": len(versions), "versions": versions}


async def _import_rows(request: Request) -> list[dict[str, Any]]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise BadRequest("the body must be a JSON list of {terminal_id, password_hex}")
    if len(body) > IMPORT_MAX:
        raise PayloadTooLarge(f"{len(body)} rows; at most {IMPORT_MAX} per import")
    return body


@router.post("/terminal-passwords/{terminal_id}/rotations", response_model=RotationStarted,
             status_code=status.HTTP_202_ACCEPTED,
             summary="Send a new password to the terminal (AFN04 F5); master data switches on its confirm")
async def rotate(terminal_id: str, principal: Rotator, conn: Conn, archive: Archive,
                 body: RotationBody | None = None) -> dict[str, Any]:
    body = body or RotationBody()
    _sealing(archive)
    terminal = await _terminal(conn, terminal_id, principal)
    key = store.session_key(terminal.get("address"))
    if key is None:
        raise Invalid(f"terminal {terminal_id}'s address is not a 1376.1 address (AAAA-TTTTT or 8 hex digits):"
                      " it cannot be sent a command")
    new = generate() if body.password_hex is None else _password(body.password_hex)
    timeout_s = archive.settings.terminal_passwords.rotation_timeout_s
    try:
        async with conn.transaction():
            started = await rotation.start(conn, terminal, key, archive.sealer.seal(new), actor=principal.subject,
                                           timeout_s=timeout_s)
    except rotation.RotationPending as exc:
        raise Conflict(str(exc)) from None
    await rotation.publish(archive.pool, archive.producer, started, timeout_s)
    return {"rotation_id": str(started["rotation_id"]), "request_id": started["request_id"],
            "terminal_id": terminal_id, "terminal": key, "state": "pending",
            "from_version": started["from_version"], "expires_at": started["expires_at"]}
