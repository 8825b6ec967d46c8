"""Scope cases of the channel routes (R-4.6.6) for ``test_fep_scope``: company A's operator sets and reads its
terminal's channel, route and SIM allowance; company B's callers are refused (403, audited); the allowance list
holds only the caller's terminals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Case = Callable[[Any], Awaitable[None]]
CHANNEL = {"primary_channel": {"kind": "tcp"}, "sim_iccid": "89860012345678900001", "allowance_day_bytes": 1}


def channel_cases(t_a: str, t_b: str, a_view: dict[str, str], b_view: dict[str, str], a_op: dict[str, str],
                  b_op: dict[str, str]) -> dict[str, Case]:
    def refused(resp: Any, terminal: str) -> None:
        assert resp.status_code == 403, resp.text
        assert resp.json()["detail"].startswith(f"terminal {terminal} is outside your data scope")

    async def put(f: Any) -> None:
        client = f.replica.client
        assert (await client.put(f"/api/v1/terminals/{t_a}/channel", json=CHANNEL, headers=a_op)).status_code == 200
        refused(await client.put(f"/api/v1/terminals/{t_a}/channel", json=CHANNEL, headers=b_op), t_a)

    async def get(f: Any) -> None:
        client = f.replica.client
        await client.put(f"/api/v1/terminals/{t_a}/channel", json=CHANNEL, headers=a_op)
        assert (await client.get(f"/api/v1/terminals/{t_a}/channel", headers=a_view)).status_code == 200
        refused(await client.get(f"/api/v1/terminals/{t_a}/channel", headers=b_view), t_a)

    async def delete(f: Any) -> None:
        client = f.replica.client
        await client.put(f"/api/v1/terminals/{t_a}/channel", json=CHANNEL, headers=a_op)
        refused(await client.delete(f"/api/v1/terminals/{t_a}/channel", headers=b_op), t_a)
        assert (await client.delete(f"/api/v1/terminals/{t_a}/channel", headers=a_op)).status_code == 204

    async def route(f: Any) -> None:
        client = f.replica.client
        assert (await client.get(f"/api/v1/terminals/{t_a}/route", headers=a_view)).status_code == 200
        refused(await client.get(f"/api/v1/terminals/{t_a}/route", headers=b_view), t_a)

    async def allowance(f: Any) -> None:
        client = f.replica.client
        await client.put(f"/api/v1/terminals/{t_a}/channel", json=CHANNEL, headers=a_op)
        await client.put(f"/api/v1/terminals/{t_b}/channel", json=CHANNEL, headers=b_op)
        mine = (await client.get("/api/v1/traffic/allowance", headers=a_view)).json()["items"]
        assert t_a in {i["terminal"] for i in mine} and t_b not in {i["terminal"] for i in mine}
        refused(await client.get("/api/v1/traffic/allowance", params={"terminal": t_a}, headers=b_view), t_a)

    return {"PUT /api/v1/terminals/{terminal}/channel": put, "GET /api/v1/terminals/{terminal}/channel": get,
            "DELETE /api/v1/terminals/{terminal}/channel": delete, "GET /api/v1/terminals/{terminal}/route": route,
            "GET /api/v1/traffic/allowance": allowance}
