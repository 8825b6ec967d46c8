"""``/api/v1/keys``: the signing keys' ids and states (never private material), and rotation."""

from typing import Any

from fastapi import APIRouter, Request

from emms_identity.api.deps import IdentityDep, KeyReader, KeyRotator, client_ip
from emms_identity.api.responses import KeyInfo, Rotation
from emms_identity.audit import Actor
from emms_identity.keys import rotation

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.get("", response_model=list[KeyInfo], summary="Signing keys: kid, state, when created, activated, retired")
async def list_keys(principal: KeyReader, rt: IdentityDep) -> list[dict[str, Any]]:
    return await rt.keyring.listing()


@router.post("/rotate", response_model=Rotation,
             summary="Rotate: the next key signs from now, the active one retires (published until its tokens expire)")
async def rotate(principal: KeyRotator, rt: IdentityDep, request: Request) -> dict[str, Any]:
    return await rotation.rotate(rt, Actor(principal.subject, client_ip(request)))
