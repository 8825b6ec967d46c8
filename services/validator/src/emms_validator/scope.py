"""The caller's data scope in VEE: which meters, anomalies, held readings and customers it may see (R-4.6.2).

A meter belongs to its customer's company and region (``validator.meter_owner``, kept from the
master-data topic); a meter on no customer's point yet belongs to its own company and to no
region. A token's empty list means "all" of that kind; ``regions`` include every region below
them (``validator.region_subtree``). A restricted caller sees a row only when its owner is
known and inside every restriction of the token: a meter the validator has no owner for is
outside every restricted scope (fail closed).
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
    schema: str = "validator"

    @classmethod
    def of(cls, principal: Principal, schema: str = "validator") -> Scope:
        return cls(tuple(principal.companies), tuple(principal.regions), tuple(principal.customers), schema)

    @property
    def unrestricted(self) -> bool:
        return not (self.companies or self.regions or self.customers)

    def describe(self) -> str:
        parts = [f"{name} {list(values)}" for name, values in
                 (("companies", self.companies), ("regions", self.regions), ("customers", self.customers)) if values]
        return "your token allows " + ("; ".join(parts) if parts else "everything")

    def owned(self, alias: str, where: Where) -> None:
        """Conditions on ``alias`` (with ``customer_id``, ``company_id``, ``region_id``) for rows in scope."""
        if self.companies:
            where.add(f"{alias}.company_id = ANY({{}}::text[])", list(self.companies))
        if self.regions:
            where.add(f"{alias}.region_id IN (SELECT {self.schema}.region_subtree({{}}::text[]))", list(self.regions))
        if self.customers:
            where.add(f"{alias}.customer_id = ANY({{}}::text[])", list(self.customers))

    def restrict_meters(self, column: str, where: Where) -> None:
        """Keep rows whose meter (``column``) is in scope."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self.owned("o", inner)
        where.parts.append(f"{column} IN (SELECT o.meter_id FROM {self.schema}.meter_owner o WHERE {inner.sql()})")

    def restrict_customers(self, column: str, where: Where) -> None:
        """Keep rows whose customer (``column``) is in scope."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self.owned("c", inner)
        where.parts.append(f"{column} IN (SELECT c.customer_id FROM {self.schema}.customers c WHERE {inner.sql()})")

    async def allows_meter(self, conn: Connection, meter_id: str) -> bool:
        if self.unrestricted:
            return True
        where = Where([meter_id])
        where.parts.append("o.meter_id = $1")
        self.owned("o", where)
        return bool(await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.schema}.meter_owner o WHERE {where.sql()})", *where.args))

    async def allows_customer(self, conn: Connection, customer_id: str) -> bool:
        if self.unrestricted:
            return True
        where = Where([customer_id])
        where.parts.append("c.customer_id = $1")
        self.owned("c", where)
        return bool(await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.schema}.customers c WHERE {where.sql()})", *where.args))
