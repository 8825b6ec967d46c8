"""What every archive route needs: roles, the runtime, the caller's scope, a connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import Depends
from pydantic import BaseModel, ValidationError

from emms_archive.runtime import ArchiveRuntime
from emms_archive.scope import Scope
from emms_runtime import BadRequest, Invalid, Permission, Principal, require, state_dependency

Reader = Annotated[Principal, require(Permission.READINGS_READ)]
"""Readings, usage and the joint view of meters in the caller's scope."""
EventReader = Annotated[Principal, require(Permission.EVENTS_READ)]
"""Events and anomalies of meters in scope."""
MasterReader = Annotated[Principal, require(Permission.MASTERDATA_READ)]
"""Master data in scope."""
CatalogReader = Annotated[Principal, require(Permission.MASTERDATA_READ, scope="global")]
"""Fixed catalogues of the standard (categories, network kinds)."""
Writer = Annotated[Principal, require(Permission.MASTERDATA_EDIT)]
"""Master-data changes and meter installations."""
Importer = Annotated[Principal, require(Permission.MASTERDATA_IMPORT)]
"""Batch import and sync from source systems (R-4.7)."""
AuditReader = Annotated[Principal, require(Permission.AUDIT_READ)]
"""The master-data change log of the caller's scope."""
Admin = Annotated[Principal, require(Permission.BACKUP_RUN, scope="global")]
"""Backup and restore."""

Archive = Annotated[ArchiveRuntime, Depends(state_dependency(ArchiveRuntime))]


async def _connection(archive: Archive) -> AsyncIterator[Any]:
    async with archive.pool.acquire() as conn:
        yield conn


Conn = Annotated[asyncpg.Connection, Depends(_connection)]


def scope_of(principal: Principal) -> Scope:
    return Scope.of(principal)


def sees_held(principal: Principal) -> bool:
    """Held (unrepaired) data is restricted (R-4.3.1): only callers with ``readings:read-held`` see it."""
    return principal.has(Permission.READINGS_READ_HELD)


def unprocessable(exc: ValidationError, what: str = "query") -> Invalid:
    """A 422 whose detail names every bad field and why."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {message}" if loc else message)
    return Invalid(f"invalid {what}: " + "; ".join(parts))


def parse_model(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate ``data`` as ``model``; a 422 naming every bad field when it does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable(exc) from None


def bad_request(message: str) -> BadRequest:
    return BadRequest(message)
