"""``/api/v1/roles``: the built-in roles and the ones a utility or a company defines."""

from typing import Annotated, Any

from fastapi import APIRouter, Path

from emms_identity.api.deps import ManagingAdmin, ReadingAdmin
from emms_identity.api.responses import Deleted, RoleOut
from emms_identity.directory import roles
from emms_identity.directory.inputs import NO_NUL, ROLE_NAME, NewRole, RoleChange

router = APIRouter(prefix="/api/v1/roles", tags=["roles"])
RoleName = Annotated[str, Path(max_length=63, pattern=NO_NUL)]


@router.get("", response_model=list[RoleOut], summary="Built-in roles and the custom roles you can see")
async def list_roles(admin: ReadingAdmin) -> list[dict[str, Any]]:
    return await roles.listing(admin)


@router.post("", response_model=RoleOut, status_code=201,
             summary=f"Define a role (name {ROLE_NAME}) from permissions you hold")
async def create_role(admin: ManagingAdmin, body: NewRole) -> dict[str, Any]:
    return await roles.create(admin, body)


@router.patch("/{name}", response_model=RoleOut, summary="Change a custom role's description or permissions")
async def change_role(admin: ManagingAdmin, name: RoleName, body: RoleChange) -> dict[str, Any]:
    return await roles.change(admin, name, body)


@router.delete("/{name}", response_model=Deleted, summary="Delete a custom role nobody holds")
async def delete_role(admin: ManagingAdmin, name: RoleName) -> dict[str, Any]:
    return await roles.delete(admin, name)
