"""The caller's data scope over terminals (R-4.6.2).

A terminal belongs to its own record's company and region, and, where that record has no region
(or the FEP has no record yet), to the companies and regions of the customers whose points are
read through it (``fep.terminal_owner``, kept by :mod:`emms_fep.masterdata`). A token's empty
list means "all" of that kind; ``regions`` include every region below them; ``customers`` keep
to the terminals that read those customers' points. A restricted caller sees a terminal only when
one of its owner rows lies inside every restriction of the token: a terminal the FEP knows no
owner of is outside every restricted scope (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_db.connection import Connection
from emms_db.where import Where
from emms_runtime import Principal


@dataclass(frozen=True, slots=True)
class Scope:
    companies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    schema: str = "fep"

    @classmethod
    def of(cls, principal: Principal, schema: str = "fep") -> Scope:
        return cls(tuple(principal.companies), tuple(principal.regions), tuple(principal.customers), schema)

    @property
    def unrestricted(self) -> bool:
        return not (self.companies or self.regions or self.customers)

    def describe(self) -> str:
        parts = [f"{name} {list(values)}" for name, values in
                 (("companies", self.companies), ("regions", self.regions), ("customers", self.customers)) if values]
        return "your token allows " + ("; ".join(parts) if parts else "everything")

    def _owned(self, alias: str, where: Where) -> None:
        if self.companies:
            where.add(f"{alias}.company_id = ANY({{}}::text[])", list(self.companies))
        if self.regions:
            where.add(f"{alias}.region_id IN (SELECT {self.schema}.region_subtree({{}}::text[]))", list(self.regions))
        if self.customers:
            where.add(f"{alias}.customer_id = ANY({{}}::text[])", list(self.customers))

    def restrict_terminals(self, column: str, where: Where) -> None:
        """Keep rows whose terminal (``column``, the session key) is in scope."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self._owned("o", inner)
        where.parts.append(f"{column} IN (SELECT o.terminal FROM {self.schema}.terminal_owner o WHERE {inner.sql()})")

    async def allows_terminal(self, conn: Connection, terminal: str) -> bool:
        if self.unrestricted:
            return True
        where = Where([terminal])
        where.parts.append("o.terminal = $1")
        self._owned("o", where)
        return bool(await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.schema}.terminal_owner o WHERE {where.sql()})", *where.args))
