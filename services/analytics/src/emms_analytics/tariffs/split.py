"""Electricity usage split by the tariff in force of each point's terminal (issue 16: peak / valley by the TOU
periods of the tariff), beside the meters' own TOU registers.

Only sub-daily data is split: an interval of the total import register of at most an hour (15-minute or hourly
register values). An interval belongs to the half-hour slot of the local day (``local_tz``) that contains its last
microsecond — as it belongs to the bucket containing it (``usage_interval.at``) — and so to the rate the terminal's
F21 gives that half hour. Nothing is guessed: the usage of a point whose terminal has no known tariff, and of
intervals longer than an hour (daily values, a gap), is reported as not split, and the points are counted
(``no_tariff``: no terminal in master data or no tariff heard of; ``no_sub_daily``: a tariff but no interval of
an hour or less in the bucket). The tariff applied is the newest the collector published (one per terminal, not
a history). Cost: the usage at the F22 rate of its terminal (厘 → 元); None where a terminal's rates are unknown.

The database sums the usage by bucket, key, terminal and slot (:func:`slot_rows`); :func:`assign` maps each slot
to its rate and shapes the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emms_analytics.scope import Scope
from emms_analytics.selection import Selection, points_sql
from emms_analytics.tariffs import store
from emms_db.connection import Connection
from emms_db.where import Where

SUB_DAILY = timedelta(hours=1)
"""The longest interval split: hourly register values (15-minute ones are finer)."""


def slot_sql(schema: str, sel: Selection, scope: Scope, item: str, start: datetime, end: datetime, interval: str,
             group_by: str, local_tz: str) -> tuple[str, list[Any]]:
    """Usage by bucket, key, terminal and slot (NULL slot: not split — no tariff, or an interval over an hour),
    with the points and intervals counted in each row; the meter's multiplier applied; a meter counts for the
    point it measured while its period there covers the interval's last microsecond."""
    w = Where()
    pts = points_sql(schema, sel, group_by, scope, w)
    tz = w.param(local_tz)
    bucket = (f"{w.param(start)}::timestamptz" if interval == "period"
              else f"date_trunc('{interval}', s.at, {tz}::text)")
    local = f"(s.at AT TIME ZONE {tz}::text)"
    longest = w.param(SUB_DAILY)
    sql = f"""
WITH pts AS ({pts}),
periods AS (SELECT p.meter_id, p.valid_from, p.valid_to, pts.metering_point_id, pts.key
            FROM {schema}.meter_period p JOIN pts ON pts.metering_point_id = p.metering_point_id),
s AS (SELECT meter_id, at, starts_at, delta FROM {schema}.usage_interval
      WHERE item = {w.param(item)} AND at >= {w.param(start)} AND at < {w.param(end)})
SELECT {bucket} AS bucket, pe.key, tt.terminal,
       CASE WHEN tt.terminal IS NOT NULL AND s.at + interval '1 microsecond' - s.starts_at <= {longest}::interval
            THEN (extract(hour FROM {local}) * 2 + floor(extract(minute FROM {local}) / 30))::int END AS slot,
       sum(s.delta * coalesce(m.multiplier, 1)) AS usage, count(*) AS intervals,
       array_agg(DISTINCT pe.metering_point_id) AS points
FROM s
JOIN periods pe ON pe.meter_id = s.meter_id AND s.at >= pe.valid_from AND (pe.valid_to IS NULL OR s.at < pe.valid_to)
JOIN {schema}.metering_point mp ON mp.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.terminal_tariff tt ON tt.terminal = mp.terminal
LEFT JOIN {schema}.meter m ON m.meter_id = s.meter_id
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4"""
    return sql, w.args


async def slot_rows(conn: Connection, schema: str, sel: Selection, scope: Scope, item: str, start: datetime,
                    end: datetime, interval: str, group_by: str, local_tz: str,
                    timeout_ms: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """:func:`slot_sql`'s rows and the tariffs of their terminals, read in one snapshot."""
    sql, args = slot_sql(schema, sel, scope, item, start, end, interval, group_by, local_tz)
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        rows = [dict(r) for r in await conn.fetch(sql, *args)]
        tariffs = await store.held(conn, schema, sorted({r["terminal"] for r in rows if r["terminal"] is not None}))
    zone = ZoneInfo(local_tz)
    for r in rows:
        r["bucket"] = r["bucket"].astimezone(zone)
    return rows, tariffs


@dataclass
class _Entry:
    bucket: datetime
    key: str
    by_rate: dict[int, float] = field(default_factory=dict)
    cost_li: dict[int, float | None] = field(default_factory=dict)
    not_split: float = 0.0
    split_points: set[str] = field(default_factory=set)
    tariff_points: set[str] = field(default_factory=set)
    no_tariff: set[str] = field(default_factory=set)

    def add(self, rate: int, usage: float, li: int | None) -> None:
        self.by_rate[rate] = self.by_rate.get(rate, 0.0) + usage
        before = self.cost_li.get(rate, 0.0)
        self.cost_li[rate] = None if before is None or li is None else before + usage * li

    def answer(self) -> dict[str, Any]:
        split = sum(self.by_rate.values())
        rates = []
        for rate in sorted(self.by_rate):
            usage, li = self.by_rate[rate], self.cost_li[rate]
            rates.append({"rate": rate, "usage": usage, "share": usage / split if split else None,
                          "cost_yuan": None if li is None else li / 1000})
        costs = [r["cost_yuan"] for r in rates]
        return {"bucket": self.bucket, "key": self.key, "total": split + self.not_split, "split": split,
                "not_split": self.not_split, "rates": rates,
                "cost_yuan": None if not rates or any(c is None for c in costs) else sum(costs),
                "metering_points": {"split": len(self.split_points), "no_tariff": len(self.no_tariff),
                                    "no_sub_daily": len(self.tariff_points - self.split_points)}}


def assign(rows: Iterable[Mapping[str, Any]], tariffs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per bucket and key: usage by rate number (1-based) with its share of the split usage and its cost, the usage
    not split and the points split / not split. ``rows`` as :func:`slot_rows` gives them; ``tariffs`` by terminal
    (``slots`` 0-based rate numbers, ``rates`` 厘 per kWh or None)."""
    entries: dict[tuple[datetime, str], _Entry] = {}
    for r in rows:
        e = entries.setdefault((r["bucket"], r["key"]), _Entry(r["bucket"], r["key"]))
        usage, points = float(r["usage"] or 0.0), set(r["points"])
        tariff = tariffs.get(r["terminal"]) if r["terminal"] is not None else None
        if tariff is None:
            e.no_tariff |= points
            e.not_split += usage
            continue
        e.tariff_points |= points
        if r["slot"] is None:
            e.not_split += usage
            continue
        e.split_points |= points
        number = int(tariff["slots"][r["slot"]])
        e.add(number + 1, usage, _li(tariff.get("rates"), number))
    return [entries[k].answer() for k in sorted(entries)]


def _li(rates: Sequence[int] | None, number: int) -> int | None:
    return rates[number] if rates is not None and number < len(rates) else None
