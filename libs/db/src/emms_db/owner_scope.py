"""A caller's data scope as SQL: rows whose owner (company, region with every region below it,
customer) lies inside every restriction of the caller.

Services that keep an owner view of their own (``<schema>.terminal_owner``, ``<schema>.meter_owner``
…: one row per owner of a key, with ``company_id``, ``region_id``, ``customer_id``) and a
``<schema>.region_subtree(text[])`` function subclass :class:`OwnerScope` and name their views.
An empty list means "all" of that kind; a key with no owner row is outside every restricted
scope (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from emms_db.connection import Connection
from emms_db.where import Where


class Caller(Protocol):
    @property
    def companies(self) -> Sequence[str]: ...
    @property
    def regions(self) -> Sequence[str]: ...
    @property
    def customers(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class OwnerScope:
    companies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    schema: str = "public"

    @classmethod
    def of(cls, caller: Caller, schema: str | None = None) -> Self:
        """The caller's scope, in ``schema`` (by default the subclass's own)."""
        named = {} if schema is None else {"schema": schema}
        return cls(tuple(caller.companies), tuple(caller.regions), tuple(caller.customers), **named)

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

    def restrict(self, column: str, where: Where, *, view: str, key: str) -> None:
        """Keep rows whose ``column`` is a ``key`` of an owner row of ``view`` in scope."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self.owned("o", inner)
        where.parts.append(f"{column} IN (SELECT o.{key} FROM {self.schema}.{view} o WHERE {inner.sql()})")

    async def allows(self, conn: Connection, value: str, *, view: str, key: str) -> bool:
        """Whether ``value`` (a ``key`` of ``view``) has an owner row in scope."""
        if self.unrestricted:
            return True
        where = Where([value])
        where.parts.append(f"o.{key} = $1")
        self.owned("o", where)
        return bool(await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {self.schema}.{view} o WHERE {where.sql()})", *where.args))
