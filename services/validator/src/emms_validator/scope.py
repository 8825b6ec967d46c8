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
from emms_db.owner_scope import OwnerScope
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Scope(OwnerScope):
    schema: str = "validator"

    def restrict_meters(self, column: str, where: Where) -> None:
        """Keep rows whose meter (``column``) is in scope."""
        self.restrict(column, where, view="meter_owner", key="meter_id")

    def restrict_customers(self, column: str, where: Where) -> None:
        """Keep rows whose customer (``column``) is in scope."""
        self.restrict(column, where, view="customers", key="customer_id")

    async def allows_meter(self, conn: Connection, meter_id: str) -> bool:
        return await self.allows(conn, meter_id, view="meter_owner", key="meter_id")

    async def allows_customer(self, conn: Connection, customer_id: str) -> bool:
        return await self.allows(conn, customer_id, view="customers", key="customer_id")
