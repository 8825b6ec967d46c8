"""What every identity route needs: the runtime, the caller and its permission, the caller's address.

No ``from __future__ import annotations`` here: FastAPI reads these annotations at import.
"""

from typing import Annotated

from fastapi import Depends, Request

from emms_identity.directory.levels import Admin
from emms_identity.runtime import IdentityRuntime
from emms_runtime import Permission, Principal, require, state_dependency

IdentityDep = Annotated[IdentityRuntime, Depends(state_dependency(IdentityRuntime))]
SelfCaller = Annotated[Principal, require(None, scope="self")]
"""Any valid token, a ``pwd_change`` one included: the caller's own things."""
KeyReader = Annotated[Principal, require(Permission.SERVICE_READ, scope="global")]
KeyRotator = Annotated[Principal, require(Permission.KEYS_ROTATE, scope="global")]
_Reader = Annotated[Principal, require(Permission.USERS_READ)]
_Manager = Annotated[Principal, require(Permission.USERS_MANAGE)]
_Auditor = Annotated[Principal, require(Permission.AUDIT_READ)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _reader(principal: _Reader, rt: IdentityDep, request: Request) -> Admin:
    return Admin(rt, principal, client_ip(request))


def _manager(principal: _Manager, rt: IdentityDep, request: Request) -> Admin:
    return Admin(rt, principal, client_ip(request))


def _auditor(principal: _Auditor, rt: IdentityDep, request: Request) -> Admin:
    return Admin(rt, principal, client_ip(request))


ReadingAdmin = Annotated[Admin, Depends(_reader)]
"""Reads users, roles and clients within the caller's companies (``users:read``)."""
ManagingAdmin = Annotated[Admin, Depends(_manager)]
"""Changes users, roles and clients in levels (``users:manage``, step-up)."""
AuditingAdmin = Annotated[Admin, Depends(_auditor)]
"""Reads the audit log within the caller's companies (``audit:read``)."""
