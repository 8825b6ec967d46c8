"""Key customers by rule: the top N customers by usage of a utility's main register over the last
``period_days`` whole local days before a given instant, within regions (with every region below),
companies and customer categories — the same ranking as ``/ranking``, read from the rollups, in the
caller's scope; optionally only among customers whose contracted capacity (the archive's master data,
``contracted_capacity_kva``) is at least ``min_capacity_kva``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_analytics import analyses
from emms_analytics.api.deps import zone
from emms_analytics.calendar import add, truncate
from emms_analytics.keycustomers import repository as repo
from emms_analytics.keycustomers.repository import Rule
from emms_analytics.queries import usage_rows
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection


def window(rt: AnalyticsRuntime, rule: Rule, at: datetime) -> tuple[datetime, datetime]:
    """The rule's period: the ``period_days`` whole local days before the local day of ``at``."""
    tz = zone(rt)
    end = truncate(at, "day", tz)
    return add(end, "day", -rule.period_days, tz), end


def describe(rule: Rule) -> str:
    where = [f"{name} {', '.join(values)}" for name, values in
             (("regions", rule.regions), ("companies", rule.companies), ("categories", rule.categories)) if values]
    if rule.min_capacity_kva is not None:
        where.append(f"contracted capacity ≥ {rule.min_capacity_kva:g} kVA")
    return (f"top {rule.top_n} by {rule.utility} usage over {rule.period_days} days"
            + (f" in {'; '.join(where)}" if where else ""))


async def chosen(rt: AnalyticsRuntime, scope: Scope, rule: Rule, at: datetime) -> list[dict[str, Any]]:
    """The customers the rule makes key, each with its rank, usage and the reason."""
    item = rt.settings.main_items[rule.utility]
    start, end = window(rt, rule, at)
    sel = Selection(regions=rule.regions, companies=rule.companies, categories=rule.categories,
                    utilities=[rule.utility], min_capacity_kva=rule.min_capacity_kva)
    rows = await usage_rows(rt, scope, sel, start, end, "period", "customer", [item])
    tz = zone(rt)
    out = []
    for r in analyses.ranking(rows, rule.top_n):
        out.append({"customer_id": r["key"], "source": "rule", "rule_id": rule.rule_id, "rank": r["rank"],
                    "usage": r["usage"], "from": start.astimezone(tz), "to": end.astimezone(tz),
                    "reason": f"rule {rule.rule_id}: rank {r['rank']} of the {describe(rule)}"
                              f" ({r['usage']:.3f} from {start.astimezone(tz).date()} to {end.astimezone(tz).date()})"})
    return out


async def reasons(rt: AnalyticsRuntime, scope: Scope, at: datetime,
                  customer_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every key customer in the caller's scope (or only ``customer_id``) → why it is key: its hand mark
    and every rule that chooses it at ``at``."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with rt.pool.acquire() as conn:
        marks = await repo.hand_marks(conn, SCHEMA, scope, customer_id)
        all_rules = await repo.rules(conn, SCHEMA)
    tz = zone(rt)
    for m in marks:
        out.setdefault(m["customer_id"], []).append({
            "source": "hand", "reason": m["reason"], "marked_by": m["marked_by"],
            "marked_at": m["marked_at"].astimezone(tz)})
    for rule in all_rules:
        for r in await chosen(rt, scope, rule, at):
            if customer_id is None or r["customer_id"] == customer_id:
                out.setdefault(r.pop("customer_id"), []).append(r)
    return out
