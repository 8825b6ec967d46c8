"""The levelled-administration rule (R-4.6.2), enforced on every write and every read.

A caller (an administrator holding ``users:manage`` or ``users:read``):

* sees and manages only users and clients whose companies are all among the caller's companies —
  an unrestricted caller (no companies) sees and manages everyone, a restricted one never
  someone unrestricted; the same for regions and customers when the caller is restricted by them
  (regions compare by name: a region administrator grants their regions, not ones below them);
* manages only someone whose permissions are all the caller's own (no resetting the password of
  someone above you);
* grants at most its own permissions (every permission of every role granted is in the caller's
  token) and at most its own scope;
* never edits itself: its own roles, scope and state are changed by another administrator.

Every refusal is a 403 with the reason and an audit entry (``outcome = denied``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emms_identity.audit import Actor, record_apart
from emms_identity.model import Role, permissions_of
from emms_identity.runtime import IdentityRuntime
from emms_runtime import Forbidden, Invalid
from emms_runtime.auth import Principal


@dataclass(frozen=True, slots=True)
class Scope:
    companies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()


def within(inner: Sequence[str], outer: Sequence[str]) -> bool:
    """``inner`` ⊆ ``outer`` where empty means "all": an empty ``outer`` holds everything, an empty
    ``inner`` (unrestricted) fits only an empty ``outer``."""
    if not outer:
        return True
    return bool(inner) and set(inner) <= set(outer)


@dataclass(frozen=True, slots=True)
class Admin:
    """One administrative request: the runtime, the caller, where it comes from."""

    rt: IdentityRuntime
    principal: Principal
    client_ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.subject, self.client_ip)

    @property
    def own(self) -> frozenset[str]:
        return frozenset(p.value for p in self.principal.permissions)

    def is_self(self, username: str) -> bool:
        return self.principal.kind == "user" and self.principal.subject.lower() == username.lower()

    def scope_refusal(self, scope: Scope, what: str) -> str | None:
        """Why ``scope`` is outside the caller's (None when within)."""
        p = self.principal
        for kind, inner, outer in (("companies", scope.companies, p.companies),
                                   ("regions", scope.regions, p.regions),
                                   ("customers", scope.customers, p.customers)):
            if not within(inner, outer):
                shown = list(inner) or "all (unrestricted)"
                return f"{what}: {kind} {shown} are not within your {kind} {list(outer)}"
        return None

    def missing(self, permissions: Iterable[str]) -> list[str]:
        return sorted(set(permissions) - self.own)

    def visible(self, scope: Scope) -> bool:
        """May the caller see a user or client of ``scope``?"""
        return self.scope_refusal(scope, "") is None

    def reading_scope(self) -> dict[str, tuple[str, ...]]:
        """The caller's restrictions, for listing only what it may see."""
        p = self.principal
        return {"companies": p.companies, "regions": p.regions, "customers": p.customers}

    async def deny(self, action: str, target: str | None, reason: str, companies: Sequence[str] = ()) -> Forbidden:
        """Audit the refusal; the error to raise."""
        await record_apart(self.rt.pool, self.actor, action, outcome="denied", target=target, reason=reason,
                           companies=companies)
        return Forbidden(reason)

    async def check_manages(self, action: str, target: str, scope: Scope, permissions: Iterable[str]) -> None:
        """The caller may manage ``target`` (of ``scope``, now holding ``permissions``)."""
        reason = self.scope_refusal(scope, f"{target} is outside your scope")
        if reason is None and (missing := self.missing(permissions)):
            reason = f"{target} holds permissions you do not have ({', '.join(missing)}); you cannot manage them"
        if reason is not None:
            raise await self.deny(action, target, reason, scope.companies)

    async def check_grant(self, action: str, target: str, scope: Scope, roles: Sequence[Role]) -> None:
        """The caller may give ``target`` these ``roles`` in this ``scope``."""
        reason = self.scope_refusal(scope, f"cannot grant {target} this scope")
        if reason is None:
            for role in roles:
                if missing := self.missing(permissions_of([role])):
                    reason = (f"cannot grant role {role.name!r}: it holds permissions you do not have"
                              f" ({', '.join(missing)})")
                    break
        if reason is not None:
            raise await self.deny(action, target, reason, scope.companies)


def company_role_refusal(roles: Sequence[Role], scope: Scope) -> str | None:
    """A company's own role is granted only to someone restricted to that company."""
    for role in roles:
        if role.company_id is not None and set(scope.companies) != {role.company_id}:
            return (f"role {role.name!r} belongs to company {role.company_id}: it is granted only to users and"
                    f" clients restricted to that company (these are {list(scope.companies) or 'unrestricted'})")
    return None


def known_roles(names: Sequence[str], found: Sequence[Role]) -> list[Role]:
    """``found`` when every name in ``names`` is a role; else 422 naming the unknown ones."""
    unknown = sorted(set(names) - {r.name for r in found})
    if unknown:
        raise Invalid(f"unknown role(s) {unknown}")
    return list(found)
