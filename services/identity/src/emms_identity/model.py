"""What the identity service holds: users, roles, API clients (as read from the database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emms_runtime.auth import Permission

KNOWN_PERMISSIONS = frozenset(p.value for p in Permission)


def permissions_of(roles: Iterable[Role]) -> frozenset[str]:
    """The union of the roles' permissions (names unknown to this version are dropped)."""
    return frozenset(p for r in roles for p in r.permissions if p in KNOWN_PERMISSIONS)


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str
    builtin: bool
    company_id: str | None
    permissions: tuple[str, ...]
    created_by: str = "system"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Role:
        return cls(row["name"], row["description"], row["builtin"], row["company_id"],
                   tuple(sorted(row["permissions"])), row["created_by"], row["created_at"], row["updated_at"])

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "builtin": self.builtin,
                "company_id": self.company_id, "permissions": list(self.permissions),
                "created_by": self.created_by, "created_at": self.created_at, "updated_at": self.updated_at}


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    username: str
    display_name: str
    password_hash: str
    password_history: tuple[str, ...]
    must_change_password: bool
    companies: tuple[str, ...]
    regions: tuple[str, ...]
    customers: tuple[str, ...]
    failed_signins: int
    failed_since: datetime | None
    locked_until: datetime | None
    disabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_signin_at: datetime | None
    password_changed_at: datetime
    roles: tuple[str, ...] = field(default=())

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        return cls(row["id"], row["username"], row["display_name"], row["password_hash"],
                   tuple(row["password_history"]), row["must_change_password"], tuple(row["companies"]),
                   tuple(row["regions"]), tuple(row["customers"]), row["failed_signins"], row["failed_since"],
                   row["locked_until"], row["disabled"], row["created_by"], row["created_at"], row["updated_at"],
                   row["last_signin_at"], row["password_changed_at"], tuple(sorted(row["roles"] or ())))

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def view(self, now: datetime) -> dict[str, Any]:
        """The user as the API shows it: no hashes."""
        return {"id": str(self.id), "username": self.username, "display_name": self.display_name,
                "roles": list(self.roles), "companies": list(self.companies), "regions": list(self.regions),
                "customers": list(self.customers), "must_change_password": self.must_change_password,
                "disabled": self.disabled, "locked_until": self.locked_until if self.locked_at(now) else None,
                "failed_signins": self.failed_signins, "created_by": self.created_by,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "last_signin_at": self.last_signin_at, "password_changed_at": self.password_changed_at}


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret_hash: str
    name: str
    trust_level: str
    roles: tuple[str, ...]
    companies: tuple[str, ...]
    regions: tuple[str, ...]
    disabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime
    last_token_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Client:
        return cls(row["client_id"], row["secret_hash"], row["name"], row["trust_level"],
                   tuple(sorted(row["roles"])), tuple(row["companies"]), tuple(row["regions"]), row["disabled"],
                   row["created_by"], row["created_at"], row["updated_at"], row["secret_rotated_at"],
                   row["last_token_at"])

    def view(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "name": self.name, "trust_level": self.trust_level,
                "roles": list(self.roles), "companies": list(self.companies), "regions": list(self.regions),
                "disabled": self.disabled, "created_by": self.created_by, "created_at": self.created_at,
                "updated_at": self.updated_at, "secret_rotated_at": self.secret_rotated_at,
                "last_token_at": self.last_token_at}
