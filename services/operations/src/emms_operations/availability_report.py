"""Monthly and yearly availability of the master (its services' polls) and of each terminal (its sessions),
computed from the stored history with :mod:`emms_operations.availability`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from emms_db.connection import Connection
from emms_operations.availability import Interval, measure, period, polled_up, session_up
from emms_operations.repository import fleet as fleet_sql
from emms_operations.repository import health as health_sql
from emms_operations.repository import planned as planned_sql
from emms_operations.settings import OperationsSettings


def _windows(rows: list[dict[str, Any]], subject: str) -> list[Interval]:
    return [(r["starts_at"], r["ends_at"]) for r in rows if r["subject"] in ("*", subject)]


def _period(settings: OperationsSettings, year: int, month: int | None, now: datetime) -> tuple[datetime, datetime]:
    start, end = period(year, month, settings.tz())
    return start, min(end, now)


async def master(conn: Connection, settings: OperationsSettings, year: int, month: int | None,
                 now: datetime) -> dict[str, Any]:
    start, end = _period(settings, year, month, now)
    planned = await planned_sql.overlapping(conn, "master", start, end)
    polls = await health_sql.polls(conn, start, end) if end > start else []
    max_gap = timedelta(seconds=settings.poll_interval_s * 2 + settings.poll_timeout_s)
    by_service: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    by_time: dict[datetime, list[bool]] = defaultdict(list)
    for service, at, ok in polls:
        by_service[service].append((at, ok))
        by_time[at].append(ok)
    services = {}
    for service, rows in sorted(by_service.items()):
        seen, ups = polled_up(rows, end, max_gap)
        services[service] = asdict(measure(seen, ups, _windows(planned, service), start, end))
    expected = len(by_service)
    whole = [(at, len(oks) == expected and all(oks)) for at, oks in by_time.items()]
    seen, ups = polled_up(whole, end, max_gap)
    overall = measure(seen, ups, [(r["starts_at"], r["ends_at"]) for r in planned if r["subject"] == "*"],
                      start, end)
    return {"period": {"year": year, "month": month, "start": start, "end": end}, "master": asdict(overall),
            "services": services, "planned": planned}


async def terminals(conn: Connection, settings: OperationsSettings, year: int, month: int | None, now: datetime,
                    wanted: list[str] | None) -> dict[str, Any]:
    start, end = _period(settings, year, month, now)
    planned = await planned_sql.overlapping(conn, "terminal", start, end)
    history = await fleet_sql.session_history(conn, wanted, end) if end > start else {}
    rows = []
    up_total = measured_total = 0.0
    for terminal, events in sorted(history.items()):
        first, up = session_up(events, end)
        if first is None or first >= end:
            continue
        a = measure([(first, end)], up, _windows(planned, terminal), start, end)
        if a.observed_s <= 0:
            continue
        rows.append({"terminal": terminal, **asdict(a)})
        up_total += a.up_s
        measured_total += a.up_s + a.down_s
    fleet = round(up_total / measured_total, 6) if measured_total > 0 else None
    return {"period": {"year": year, "month": month, "start": start, "end": end}, "fleet_availability": fleet,
            "terminals": rows}
