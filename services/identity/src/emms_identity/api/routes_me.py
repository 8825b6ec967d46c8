"""``/api/v1/me``: the caller, and its own password (the one route a ``pwd_change`` token reaches)."""

from typing import Any

from fastapi import APIRouter, Request

from emms_identity.api.deps import IdentityDep, SelfCaller, client_ip
from emms_identity.api.responses import Me, PasswordChanged
from emms_identity.directory import selfservice
from emms_identity.directory.inputs import PasswordChange

router = APIRouter(prefix="/api/v1/me", tags=["me"])


@router.get("", response_model=Me, summary="Who you are: your token's claims and your user record")
async def me(principal: SelfCaller, rt: IdentityDep) -> dict[str, Any]:
    return await selfservice.me(rt, principal)


@router.post("/password", response_model=PasswordChanged,
             summary="Change your password (current and new); every sign-in of yours ends")
async def change_password(principal: SelfCaller, rt: IdentityDep, request: Request,
                          body: PasswordChange) -> dict[str, Any]:
    return await selfservice.change_password(rt, principal, client_ip(request), body.current_password,
                                             body.new_password)
