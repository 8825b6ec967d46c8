"""The joint electricity + water + gas + heat view of customers (R-4.3.4).

One real customer often has one archive per utility (an electricity account, a water account…),
linked by ``party_id``. Given customers, parties or a group, the view gathers, per party and
inside the caller's scope: the archive (customers of every utility, their metering points and
which meter was on each when), the usage over the range per point and item, and the anomalies
and events of those points with their class counts and the most recent ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_archive.masterdata.entities import ScopeKind
from emms_archive.query import events as event_queries
from emms_archive.query.filters import Selection, select_points
from emms_archive.query.usage import usage
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where

RECENT = 20


async def parties_of(conn: Connection, sel: Selection, scope: Scope) -> list[str]:
    """The parties (real customers) behind a selection, inside the scope."""
    points = await select_points(conn, sel, scope) or []
    w = Where()
    w.add(f"c.id IN (SELECT customer_id FROM {SCHEMA}.metering_point WHERE id = ANY({{}}::text[]))"
          " OR c.id = ANY({}::text[]) OR c.party_id = ANY({}::text[])",
          points, sel.customers or [], sel.parties or [])
    scope.restrict(ScopeKind.OWNED, "c", w, has_region=True)
    scope.restrict_customers("c", w)
    rows = await conn.fetch(f"SELECT DISTINCT c.party_id FROM {SCHEMA}.customer c WHERE {w.sql()}"
                            " ORDER BY 1 LIMIT 1000", *w.args)
    return [r["party_id"] for r in rows]


async def joint_view(conn: Connection, parties: list[str], scope: Scope, start: datetime, end: datetime,
                     items: list[str] | None = None) -> dict[str, Any]:
    """Archive, usage and anomalies of every customer record of ``parties``, grouped by party."""
    w = Where()
    w.add_any("c.party_id", parties)
    scope.restrict(ScopeKind.OWNED, "c", w, has_region=True)
    scope.restrict_customers("c", w)
    customers = [dict(r) for r in await conn.fetch(
        f"SELECT c.* FROM {SCHEMA}.customer c WHERE {w.sql()} ORDER BY c.party_id, c.utility, c.id", *w.args)]
    points = [dict(r) for r in await conn.fetch(
        f"SELECT mp.* FROM {SCHEMA}.metering_point mp WHERE mp.customer_id = ANY($1::text[]) ORDER BY mp.id",
        [c["id"] for c in customers])]
    point_ids = [p["id"] for p in points]
    periods = await conn.fetch(
        f"SELECT metering_point_id, meter_id, valid_from, valid_to, meter_address, protocol FROM {SCHEMA}.installation"
        " WHERE metering_point_id = ANY($1::text[]) ORDER BY valid_from", point_ids)
    used = await usage(conn, point_ids, items, start, end, interval="range", group_by="metering_point")
    anomaly_counts = await event_queries.counts(conn, "anomaly", point_ids, start, end)
    event_counts = await event_queries.counts(conn, "event", point_ids, start, end)
    recent_anomalies = await event_queries.anomalies(conn, points=point_ids, start=start, end=end, limit=RECENT)
    recent_events = await event_queries.events(conn, points=point_ids, start=start, end=end, limit=RECENT)

    for p in points:
        p["meters"] = [dict(r) for r in periods if r["metering_point_id"] == p["id"]]
        p["usage"] = [{k: u[k] for k in ("item", "unit", "usage", "intervals")} for u in used if u["key"] == p["id"]]
        p["anomalies"] = anomaly_counts.get(p["id"], {})
        p["events"] = event_counts.get(p["id"], {})
    by_party: dict[str, dict[str, Any]] = {}
    for c in customers:
        party = by_party.setdefault(c["party_id"], {"party_id": c["party_id"], "utilities": [], "customers": []})
        c["metering_points"] = [p for p in points if p["customer_id"] == c["id"]]
        party["customers"].append(c)
        if c["utility"] not in party["utilities"]:
            party["utilities"].append(c["utility"])
    return {"parties": list(by_party.values()), "recent_anomalies": recent_anomalies["rows"],
            "recent_events": recent_events["rows"]}
