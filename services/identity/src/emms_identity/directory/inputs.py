"""Request bodies of the administration API, validated before any rule is checked."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from emms_runtime.auth import TRUST_LEVELS, Permission

USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"
ROLE_NAME = r"^[a-z][a-z0-9_-]{1,62}$"
CLIENT_ID = r"^[a-z0-9][a-z0-9._-]{2,63}$"
NO_NUL = r"^[^\x00]*$"
"""PostgreSQL text cannot hold NUL: every free text is refused with it as a 422, never a 500."""
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
RoleName = Annotated[str, StringConstraints(pattern=ROLE_NAME)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


def _unique(values: list[str]) -> list[str]:
    return sorted(set(values))


Names = Annotated[list[Ident], Field(max_length=200), AfterValidator(_unique)]
Roles = Annotated[list[RoleName], Field(max_length=50), AfterValidator(_unique)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(_Body):
    username: Annotated[str, StringConstraints(pattern=USERNAME)]
    display_name: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] = ""
    password: Secret | None = Field(default=None, description="Omitted: a temporary password is generated and"
                                    " returned once, and the user must change it at first sign-in")
    must_change_password: bool = True
    roles: Roles = []
    companies: Names = Field(default=[], description="Empty: every company (only an unrestricted caller may)")
    regions: Names = []
    customers: Names = []


class UserChange(_Body):
    """Fields to change; those left out stay. ``roles`` replaces the user's roles (role assignment)."""

    display_name: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = None
    roles: Roles | None = None
    companies: Names | None = None
    regions: Names | None = None
    customers: Names | None = None


class NewRole(_Body):
    name: Annotated[str, StringConstraints(pattern=ROLE_NAME)]
    description: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] = ""
    company_id: Ident | None = Field(default=None, description="The company whose role this is; null: utility-wide"
                                     " (only an unrestricted caller may)")
    permissions: Annotated[list[Permission], Field(max_length=100)]


class RoleChange(_Body):
    description: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] | None = None
    permissions: Annotated[list[Permission], Field(max_length=100)] | None = None


def _trust_level(value: str | None) -> str | None:
    if value is not None and value not in TRUST_LEVELS:
        raise ValueError(f"unknown trust level {value!r}; levels are {', '.join(TRUST_LEVELS)}")
    return value


class NewClient(_Body):
    client_id: Annotated[str, StringConstraints(pattern=CLIENT_ID)] | None = Field(
        default=None, description="Omitted: generated")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    trust_level: str = Field(description=f"One of {', '.join(TRUST_LEVELS)}")
    roles: Roles = []
    companies: Names = []
    regions: Names = []

    _level = field_validator("trust_level")(_trust_level)


class ClientChange(_Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)] | None = None
    trust_level: str | None = None
    roles: Roles | None = None
    companies: Names | None = None
    regions: Names | None = None

    _level = field_validator("trust_level")(_trust_level)


class PasswordChange(_Body):
    current_password: Secret
    new_password: Secret
