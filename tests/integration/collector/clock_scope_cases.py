"""Scope cases of the clock routes added for the clock hierarchy (R-4.6.1.4, R-4.6.1.5) for
``test_collector_scope`` (its world: company A's terminal ``TA`` with meters mA1 (645) and mA2 (188), company
B's ``TB`` with mB1; a FEP stand-in that answers no point-table read, so a collectors check of A's terminal is
a 504 once it passed the scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from emms_collector.repository import collector_clock as collector_sql

Case = Callable[[Any], Awaitable[None]]


def clock_cases(a: dict[str, str], b: dict[str, str], ta: str, tb: str) -> dict[str, Case]:
    async def collectors(w: Any) -> None:
        async with w.running.c.pool.acquire() as conn:
            for terminal, collector in ((ta, "990000010000"), (tb, "990000020000")):
                await collector_sql.note(conn, terminal, collector, 2, deviation_s=3.0, round_trip_ms=80.0,
                                         result="measured", synced=False)
        mine = (await w.call(a, "GET", "/api/v1/clock/collectors")).json()["items"]
        assert {i["terminal"] for i in mine} == {ta}
        theirs = (await w.call(b, "GET", "/api/v1/clock/collectors", params={"terminal": ta})).json()["items"]
        assert theirs == []

    async def check(w: Any) -> None:
        refused = await w.call(b, "POST", f"/api/v1/clock/terminals/{ta}/collectors/check")
        assert refused.status_code == 403 and ta in refused.json()["detail"]
        mine = await w.call(a, "POST", f"/api/v1/clock/terminals/{ta}/collectors/check", params={"sync": "false"})
        assert mine.status_code == 504 and "point table not read" in mine.json()["detail"], mine.text

    async def meter_read(w: Any) -> None:
        mine = await w.call(a, "POST", "/api/v1/clock/meters/mA2/read")
        assert mine.status_code == 422 and "cjt188" in mine.json()["detail"]  # past the scope: a 188 meter
        assert (await w.call(b, "POST", "/api/v1/clock/meters/mA2/read")).status_code == 404
        assert (await w.call(a, "POST", "/api/v1/clock/meters/mB1/read")).status_code == 404

    return {"GET /api/v1/clock/collectors": collectors,
            "POST /api/v1/clock/terminals/{terminal}/collectors/check": check,
            "POST /api/v1/clock/meters/{meter_id}/read": meter_read}
