"""Combined query conditions (R-4.3.4) and their translation to metering points in scope.

Master-data conditions (customer, party, metering point, meter, region with everything below
it, company, group, utility, category) select metering points; the caller's company / region
scope is applied to the same selection, so a reading outside the scope cannot be reached by
any combination of conditions. Reading conditions (items, sources, quality, time range) are
applied to the readings themselves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from emms_archive.masterdata.categories import Utility
from emms_archive.masterdata.entities import ScopeKind
from emms_archive.masterdata.models import Id
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where
from emms_messages.readings import ReadingSource

MAX_SPAN = timedelta(days=3700)


class Selection(BaseModel):
    """Which metering points: every given condition must hold (lists mean "any of")."""

    model_config = ConfigDict(extra="forbid")

    customers: list[Id] | None = None
    parties: list[Id] | None = None
    metering_points: list[Id] | None = None
    meters: list[Id] | None = None
    regions: list[Id] | None = None
    companies: list[Id] | None = None
    groups: list[Id] | None = None
    utilities: list[Utility] | None = None
    categories: list[str] | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in Selection.model_fields)


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        if self.end - self.start > MAX_SPAN:
            raise ValueError(f"the time range may span at most {MAX_SPAN.days} days")
        return self


class ReadingQuery(Selection, TimeRange):
    """A reading query: selection, time range, reading conditions, layer and page."""

    items: list[str] | None = None
    sources: list[ReadingSource] | None = None
    quality: list[int] | None = None
    good_only: bool = False
    layer: Literal["raw", "validated"] = "raw"
    limit: int = Field(default=1000, ge=1, le=100_000)
    cursor: str | None = None


async def select_points(conn: Connection, sel: Selection, scope: Scope) -> list[str] | None:
    """The metering points selected and in scope; ``None`` means "all" (nothing to restrict)."""
    if sel.is_empty() and scope.unrestricted:
        return None
    scope.require(sel.companies or ())
    w = Where()
    w.add_any("c.id", sel.customers)
    w.add_any("c.party_id", sel.parties)
    w.add_any("mp.id", sel.metering_points)
    w.add_any("c.company_id", sel.companies)
    w.add_any("mp.utility", [u.value for u in sel.utilities] if sel.utilities is not None else None)
    w.add_any("c.category", sel.categories)
    if sel.regions is not None:
        w.add(f"c.region_id IN (SELECT {SCHEMA}.region_subtree({{}}::text[]))", sel.regions)
    if sel.meters is not None:
        w.add(f"mp.id IN (SELECT metering_point_id FROM {SCHEMA}.meter_period WHERE meter_id = ANY({{}}::text[]))",
              sel.meters)
    if sel.groups is not None:
        g = w.param(sel.groups)
        w.parts.append(
            f"mp.id IN (SELECT member_id FROM {SCHEMA}.group_member WHERE group_id = ANY({g}::text[])"
            f" AND member_kind = 'metering_point'"
            f" UNION SELECT gp.id FROM {SCHEMA}.metering_point gp JOIN {SCHEMA}.group_member gm"
            f" ON gm.member_kind = 'customer' AND gm.member_id = gp.customer_id WHERE gm.group_id = ANY({g}::text[])"
            f" UNION SELECT p.metering_point_id FROM {SCHEMA}.meter_period p JOIN {SCHEMA}.group_member gm"
            f" ON gm.member_kind = 'meter' AND gm.member_id = p.meter_id WHERE gm.group_id = ANY({g}::text[]))")
    scope.restrict(ScopeKind.OWNED, "c", w, has_region=True)
    scope.restrict_customers("c", w)
    rows = await conn.fetch(f"SELECT mp.id FROM {SCHEMA}.metering_point mp JOIN {SCHEMA}.customer c"
                            f" ON c.id = mp.customer_id WHERE {w.sql()}", *w.args)
    return [r["id"] for r in rows]
