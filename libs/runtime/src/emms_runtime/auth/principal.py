"""The caller of a request, as its verified token describes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emms_runtime.auth.permissions import STEP_UP_ACR, Permission


class ClaimsError(ValueError):
    """The token is genuine but its claims do not describe a caller."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls, what they may do and which data they may see.

    ``companies`` / ``regions`` / ``customers`` empty means no restriction of that kind; a
    customer's token is always restricted to its ``customers``. ``regions`` include every region
    below them.
    """

    subject: str
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    companies: tuple[str, ...] = field(default=())
    regions: tuple[str, ...] = field(default=())
    customers: tuple[str, ...] = field(default=())
    kind: str = "user"
    """``user`` (a person), ``client`` (another system) or ``dev`` (emms-token, development only)."""
    step_up: bool = False
    auth_time: int = 0
    """When the password was last checked (epoch seconds)."""
    trust_level: str | None = None
    max_rows: int = 10_000
    per_minute: int = 600
    token_id: str = ""

    @property
    def role(self) -> str:
        """The first role: for display and logs."""
        return self.roles[0] if self.roles else "none"

    @property
    def key(self) -> str:
        """The quota key: one per person or system."""
        return f"{self.kind}:{self.subject}"

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def unrestricted(self) -> bool:
        return not (self.companies or self.regions or self.customers)

    def may_see_company(self, company: str | None) -> bool:
        return not self.companies or company in self.companies

    @classmethod
    def with_role(cls, subject: str, role: str, **fields: Any) -> Principal:
        """A caller with one built-in role (for tools and tests)."""
        from emms_runtime.auth.permissions import BUILTIN_ROLES

        return cls(subject, (role,), BUILTIN_ROLES[role], **fields)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        try:
            perms = frozenset(Permission(p) for p in claims.get("perms", ()) if p in _KNOWN)
            return cls(
                subject=str(claims["sub"]),
                roles=tuple(str(r) for r in claims.get("roles", ())),
                permissions=perms,
                companies=_strings(claims, "companies"),
                regions=_strings(claims, "regions"),
                customers=_strings(claims, "customers"),
                kind=str(claims.get("kind", "user")),
                step_up=claims.get("acr") == STEP_UP_ACR,
                auth_time=int(claims.get("auth_time", 0)),
                trust_level=claims.get("trust_level"),
                max_rows=int(claims.get("max_rows", 10_000)),
                per_minute=int(claims.get("per_minute", 600)),
                token_id=str(claims.get("jti", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ClaimsError(f"claims do not describe a caller: {exc}") from None


_KNOWN = {p.value for p in Permission}


def _strings(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = claims.get(name, ())
    if not isinstance(value, list | tuple):
        raise ClaimsError(f"claim {name!r} must be a list")
    return tuple(str(v) for v in value)
