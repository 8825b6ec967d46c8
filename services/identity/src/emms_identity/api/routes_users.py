"""``/api/v1/users``: people, administered in levels (R-4.6.2). Reads need ``users:read``; writes
``users:manage`` with a step-up token."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_identity.api.deps import ManagingAdmin, ReadingAdmin
from emms_identity.api.responses import PasswordReset, UserCreated, UserOut
from emms_identity.directory import users
from emms_identity.directory.inputs import NO_NUL, NewUser, UserChange
from emms_identity.directory.levels import Admin
from emms_runtime import oplog

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Text = Annotated[str | None, Query(max_length=64, pattern=NO_NUL)]


@router.get("", response_model=list[UserOut], summary="Users within your companies, by username")
async def list_users(admin: ReadingAdmin, company: Text = None, role: Text = None, disabled: bool | None = None,
                     q: Annotated[str | None, Query(max_length=64, pattern=NO_NUL,
                                                    description="part of username or name")] = None,
                     after: Annotated[str | None, Query(max_length=64, pattern=NO_NUL,
                                                        description="last username of the previous page")] = None,
                     limit: Limit = 100) -> list[dict[str, Any]]:
    return await users.listing(admin, company=company, role=role, disabled=disabled, search=q, after=after,
                               limit=limit)


@router.post("", response_model=UserCreated, status_code=201,
             summary="Create a user (within your scope, with at most your permissions)")
async def create_user(admin: ManagingAdmin, body: NewUser) -> dict[str, Any]:
    view = await users.create(admin, body)
    await _duty(admin, "user.create", view, {"roles": body.roles, "companies": body.companies})
    return view


@router.get("/{user_id}", response_model=UserOut, summary="One user")
async def get_user(admin: ReadingAdmin, user_id: uuid.UUID) -> dict[str, Any]:
    return await users.get(admin, user_id)


@router.patch("/{user_id}", response_model=UserOut,
              summary="Change name, roles (role assignment) or scope of a user you manage")
async def change_user(admin: ManagingAdmin, user_id: uuid.UUID, body: UserChange) -> dict[str, Any]:
    view = await users.change(admin, user_id, body)
    await _duty(admin, "user.update", view, {"after": body.model_dump(exclude_unset=True)})
    return view


@router.post("/{user_id}/disable", response_model=UserOut, summary="Disable a user; their sign-ins end")
async def disable_user(admin: ManagingAdmin, user_id: uuid.UUID) -> dict[str, Any]:
    view = await users.set_disabled(admin, user_id, True)
    await _duty(admin, "user.disable", view)
    return view


@router.post("/{user_id}/enable", response_model=UserOut, summary="Enable a disabled user")
async def enable_user(admin: ManagingAdmin, user_id: uuid.UUID) -> dict[str, Any]:
    view = await users.set_disabled(admin, user_id, False)
    await _duty(admin, "user.enable", view)
    return view


@router.post("/{user_id}/reset-password", response_model=PasswordReset,
             summary="A temporary password, shown once; the user must change it at the next sign-in")
async def reset_password(admin: ManagingAdmin, user_id: uuid.UUID) -> dict[str, Any]:
    view = await users.reset_password(admin, user_id)
    await _duty(admin, "password.reset", view)  # never the temporary password
    return view


@router.post("/{user_id}/unlock", response_model=UserOut, summary="Lift a lockout after failed sign-ins")
async def unlock_user(admin: ManagingAdmin, user_id: uuid.UUID) -> dict[str, Any]:
    view = await users.unlock(admin, user_id)
    await _duty(admin, "user.unlock", view)
    return view


async def _duty(admin: Admin, action: str, view: dict[str, Any], detail: dict[str, Any] | None = None) -> None:
    """The user change in the duty log (emms.operation.log.v1) once it committed; never fails the request."""
    await oplog.record(admin.rt.producer, service="identity", category="user", action=action,
                       actor=admin.principal.subject, target=str(view.get("username")),
                       detail={"user_id": str(view.get("user_id") or view.get("id")), **(detail or {})})
