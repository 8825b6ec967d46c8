"""The caller's data scope in the collector's queries: companies, regions (with every region below them) and
customers (R-4.6.2, R-4.3.3a).

The collector's rows belong to meters and terminals, whose owners come from master data
(``point.company_id`` / ``region_id`` / ``customer_id`` from the installation and customer changes,
``md_terminal.company_id`` / ``region_id`` from the terminal changes, ``md_region`` for the tree):

* a **meter** is in scope when its point's company, region and customer all are (a point whose
  company or region is unknown is outside every scope that restricts by it);
* a **terminal** is in scope when its own master-data row (company; region when it has one) is and
  every active meter behind it is — at least one of them positively; a terminal without a row is
  judged by its meters alone;
* a **task** belongs to its owner company and the regions its creator was restricted to
  (``task.company_id`` / ``scope_regions``); it is in scope when that owner is inside the caller's
  scope. Tasks of the whole utility (no owner) and tasks of customers' tokens are outside every
  restricted scope.

An empty scope (no companies, regions or customers) is unrestricted and adds no condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where
from emms_runtime import Principal


@dataclass(frozen=True, slots=True)
class Scope:
    companies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(tuple(principal.companies), tuple(principal.regions), tuple(principal.customers))

    @classmethod
    def owned_by(cls, company_id: str | None, regions: Sequence[str] = ()) -> Scope:
        """The scope of a task's owner: what its runs may read."""
        return cls((company_id,) if company_id else (), tuple(regions))

    @property
    def unrestricted(self) -> bool:
        return not (self.companies or self.regions or self.customers)

    def allows_company(self, company: str | None) -> bool:
        return not self.companies or company in self.companies

    # -- conditions -----------------------------------------------------------------------------------------
    def _subtree(self, where: Where) -> str:
        return f"(SELECT {SCHEMA}.region_subtree({where.param(list(self.regions))}::text[]))"

    def points(self, alias: str, where: Where) -> None:
        """Keep point rows ``alias`` to meters in scope."""
        if self.companies:
            where.add(f"{alias}.company_id = ANY({{}}::text[])", list(self.companies))
        if self.regions:
            where.parts.append(f"{alias}.region_id IN {self._subtree(where)}")
        if self.customers:
            where.add(f"{alias}.customer_id = ANY({{}}::text[])", list(self.customers))

    def meters(self, column: str, where: Where) -> None:
        """Keep rows whose meter id ``column`` is a meter in scope."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self.points("sp", inner)
        where.parts.append(f"EXISTS (SELECT 1 FROM {SCHEMA}.point sp WHERE sp.meter_id = {column} AND {inner.sql()})")

    def terminals(self, column: str, where: Where) -> None:
        """Keep rows whose terminal address ``column`` is a terminal in scope."""
        if self.unrestricted:
            return
        strict, lenient = Where(where.args), Where(where.args)
        if self.companies:
            ref = strict.param(list(self.companies))
            strict.parts.append(f"so.company_id = ANY({ref}::text[])")
            lenient.parts.append(f"so.company_id = ANY({ref}::text[])")
        if self.regions:
            subtree = self._subtree(strict)
            strict.parts.append(f"so.region_id IN {subtree}")
            lenient.parts.append(f"(so.source = 'terminal' AND so.region_id IS NULL) OR so.region_id IN {subtree}")
        if self.customers:
            ref = strict.param(list(self.customers))
            strict.parts.append(f"so.customer_id = ANY({ref}::text[])")
            lenient.parts.append(f"so.source = 'point' AND so.customer_id = ANY({ref}::text[])")
        owners = f"FROM {SCHEMA}.terminal_owner so WHERE so.terminal = {column}"
        where.parts.append(f"EXISTS (SELECT 1 {owners} AND {strict.sql()})"
                           f" AND NOT EXISTS (SELECT 1 {owners} AND ({lenient.sql()}) IS NOT TRUE)")

    def tasks(self, alias: str, where: Where) -> None:
        """Keep task rows ``alias`` to tasks whose owner is in scope."""
        if self.customers:
            where.parts.append("FALSE")
            return
        if self.companies:
            where.add(f"{alias}.company_id = ANY({{}}::text[])", list(self.companies))
        if self.regions:
            where.parts.append(f"cardinality({alias}.scope_regions) > 0 AND"
                               f" {alias}.scope_regions <@ ARRAY{self._subtree(where)}")

    def task_ids(self, column: str, where: Where) -> None:
        """Keep rows whose task id ``column`` is a task in scope (deleted ones too: their runs stay readable)."""
        if self.unrestricted:
            return
        inner = Where(where.args)
        self.tasks("st", inner)
        where.parts.append(f"{column} IN (SELECT st.id FROM {SCHEMA}.task st WHERE {inner.sql()})")


UNRESTRICTED = Scope()


# -- checks of what a request names -----------------------------------------------------------------------------

async def meters_outside(conn: Connection, scope: Scope, meter_ids: Sequence[str]) -> list[str]:
    """Which of ``meter_ids`` are not meters in scope (unknown ones included), sorted."""
    if scope.unrestricted or not meter_ids:
        return []
    w = Where([list(meter_ids)])
    scope.points("p", w)
    rows = await conn.fetch(f"SELECT p.meter_id FROM {SCHEMA}.point p WHERE p.meter_id = ANY($1::text[])"
                            f" AND {w.sql()}", *w.args)
    return sorted(set(meter_ids) - {r["meter_id"] for r in rows})


async def terminals_outside(conn: Connection, scope: Scope, terminals: Sequence[str]) -> list[str]:
    """Which of ``terminals`` (bus addresses) are not terminals in scope (unknown ones included), sorted."""
    if scope.unrestricted or not terminals:
        return []
    w = Where([list(terminals)])
    scope.terminals("t.terminal", w)
    rows = await conn.fetch(f"SELECT t.terminal FROM unnest($1::text[]) AS t(terminal) WHERE {w.sql()}", *w.args)
    return sorted(set(terminals) - {r["terminal"] for r in rows})


async def regions_outside(conn: Connection, scope: Scope, regions: Sequence[str]) -> list[str]:
    """Which of ``regions`` are not inside the caller's regions (or below them), sorted."""
    if not scope.regions or not regions:
        return []
    rows = await conn.fetch(f"SELECT r FROM unnest($1::text[]) AS r WHERE r NOT IN"
                            f" (SELECT {SCHEMA}.region_subtree($2::text[]))", list(regions), list(scope.regions))
    return sorted({r["r"] for r in rows})


async def companies_of(conn: Connection, meter_ids: Sequence[str], terminals: Sequence[str]) -> set[str | None]:
    """The owner companies of the named meters and of the active meters behind the named terminals."""
    if not meter_ids and not terminals:
        return set()
    rows = await conn.fetch(f"SELECT DISTINCT company_id FROM {SCHEMA}.point WHERE meter_id = ANY($1::text[])"
                            " OR (active AND terminal = ANY($2::text[]))", list(meter_ids), list(terminals))
    return {r["company_id"] for r in rows}


async def terminal_known(conn: Connection, terminal: str) -> bool:
    """Whether master data, the point table, the terminal's sessions or a clock it answered know the terminal
    (a sync that got no answer does not make a terminal known)."""
    return bool(await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.terminal_owner WHERE terminal = $1)"
        f" OR EXISTS (SELECT 1 FROM {SCHEMA}.terminal_clock WHERE terminal = $1"
        " AND (source <> 'sync' OR deviation_s IS NOT NULL))", terminal))
