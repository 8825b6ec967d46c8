"""The caller's data scope: which companies, regions and customers a token may see (R-4.3.3a, R-4.6.2, R-4.5.7).

An empty list in the token means "all" (the identity service gives an empty scope only to
callers of the whole utility); a customer's token names its own customer records. Regions include every
region below them. Reads are filtered with :meth:`Scope.restrict`; a request that names a
company or region outside the scope is refused (``Forbidden``, 403) by :meth:`Scope.require`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emms_archive.masterdata.entities import ScopeKind
from emms_archive.schema import SCHEMA
from emms_db.where import Where
from emms_runtime import Forbidden, Principal


@dataclass(frozen=True, slots=True)
class Scope:
    companies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(tuple(principal.companies), tuple(principal.regions), tuple(principal.customers))

    @property
    def unrestricted(self) -> bool:
        return not self.companies and not self.regions and not self.customers

    def allows_company(self, company: str | None) -> bool:
        return not self.companies or company in self.companies

    def require(self, companies: Iterable[str] = ()) -> None:
        """Refuse (:class:`Forbidden`, 403) a request that names a company outside the caller's scope."""
        outside = sorted({c for c in companies if not self.allows_company(c)})
        if outside:
            raise Forbidden(f"outside your data scope: companies {outside}; "
                            f"your token allows {list(self.companies)}")

    def restrict(self, kind: ScopeKind, alias: str, where: Where, *, has_region: bool = False) -> None:
        """Add the conditions that keep ``alias``'s rows inside the scope."""
        if self.unrestricted:
            return
        if kind is ScopeKind.COMPANY:
            if self.companies:
                where.add(f"{alias}.id = ANY({{}}::text[])", list(self.companies))
        elif kind is ScopeKind.REGION:
            if self.regions:
                where.add(f"{alias}.id IN (SELECT {SCHEMA}.region_subtree({{}}::text[]))", list(self.regions))
        elif kind is ScopeKind.OWNED:
            self._owned(alias, where, has_region)
        elif kind is ScopeKind.CUSTOMER_OF:
            inner = Where(where.args)
            self._owned("sc", inner, True)
            where.parts.append(f"{alias}.customer_id IN (SELECT sc.id FROM {SCHEMA}.customer sc WHERE {inner.sql()})")
        elif kind is ScopeKind.GROUP_OF and self.companies:
            where.add(f"{alias}.group_id IN (SELECT sg.id FROM {SCHEMA}.custom_group sg"
                      f" WHERE sg.company_id IS NULL OR sg.company_id = ANY({{}}::text[]))", list(self.companies))

    def restrict_customers(self, alias: str, where: Where) -> None:
        """Keep ``alias`` (a customer row) to the caller's own customer records, if it names any."""
        if self.customers:
            where.add(f"{alias}.id = ANY({{}}::text[])", list(self.customers))

    def _owned(self, alias: str, where: Where, has_region: bool) -> None:
        if self.companies:
            where.add(f"{alias}.company_id = ANY({{}}::text[])", list(self.companies))
        if self.regions and has_region:
            where.add(f"{alias}.region_id IS NULL OR {alias}.region_id IN"
                      f" (SELECT {SCHEMA}.region_subtree({{}}::text[]))", list(self.regions))
