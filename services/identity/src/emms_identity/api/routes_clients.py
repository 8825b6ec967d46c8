"""``/api/v1/clients``: other utility systems (API clients) with a trust level, administered in levels."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from emms_identity.api.deps import ManagingAdmin, ReadingAdmin
from emms_identity.api.responses import ClientOut, ClientWithSecret
from emms_identity.directory import clients
from emms_identity.directory.inputs import NO_NUL, ClientChange, NewClient

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])
ClientId = Annotated[str, Path(max_length=64, pattern=NO_NUL)]


@router.get("", response_model=list[ClientOut], summary="API clients within your companies")
async def list_clients(admin: ReadingAdmin,
                       after: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return await clients.listing(admin, after=after, limit=limit)


@router.post("", response_model=ClientWithSecret, status_code=201,
             summary="Register a client; its secret is in this answer only")
async def create_client(admin: ManagingAdmin, body: NewClient) -> dict[str, Any]:
    return await clients.create(admin, body)


@router.get("/{client_id}", response_model=ClientOut, summary="One client")
async def get_client(admin: ReadingAdmin, client_id: ClientId) -> dict[str, Any]:
    return await clients.get(admin, client_id)


@router.patch("/{client_id}", response_model=ClientOut, summary="Change a client's name, trust level, roles or scope")
async def change_client(admin: ManagingAdmin, client_id: ClientId, body: ClientChange) -> dict[str, Any]:
    return await clients.change(admin, client_id, body)


@router.post("/{client_id}/rotate-secret", response_model=ClientWithSecret,
             summary="A new secret, in this answer only; the old one stops working at once")
async def rotate_secret(admin: ManagingAdmin, client_id: ClientId) -> dict[str, Any]:
    return await clients.rotate_secret(admin, client_id)


@router.post("/{client_id}/disable", response_model=ClientOut, summary="Disable a client: no more tokens")
async def disable_client(admin: ManagingAdmin, client_id: ClientId) -> dict[str, Any]:
    return await clients.set_disabled(admin, client_id, True)


@router.post("/{client_id}/enable", response_model=ClientOut, summary="Enable a disabled client")
async def enable_client(admin: ManagingAdmin, client_id: ClientId) -> dict[str, Any]:
    return await clients.set_disabled(admin, client_id, False)
