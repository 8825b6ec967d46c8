"""``GET /api/v1/events`` and ``GET /api/v1/readings/latest`` over data stored through the archive's
real paths: device events published on ``emms.device.event.v1`` and stored by the archive's own
records consumer, raw readings written by its ingest (``RawIngest``). Values, filters, ordering,
cursor paging, company scope and 4xx answers with their reason (R-4.5.4.3, R-4.3.4, R-4.3.3a)."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from archive_harness import ADMIN, VIEWER, Service, eventually, seed_reference, token

from emms_bus import BusProducer
from emms_messages.events import DeviceEvent, EventClass
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
BASE = TODAY - timedelta(days=10)  # readings and events: recent (latest looks back 400 days)
INSTALLED = TODAY - timedelta(days=800)
TOTAL, T1 = "energy.active.import.total", "energy.active.import.t1"
WATER = "water.volume"


def _customer(ids: dict[str, str], cid: str, utility: str, pn: int) -> dict[str, Any]:
    category = {"electricity": "e_residential", "water": "w_residential"}[utility]
    return {"customer_id": cid, "customer_name": cid, "utility": utility, "category": category,
            "company_id": ids["company"], "region_id": ids["district"], "metering_point_id": f"{cid}-P",
            "terminal_id": ids["terminal"], "pn": pn, "meter_id": f"{cid}-M",
            "protocol": "dlt645-2007" if utility == "electricity" else "cjt188-2004",
            "meter_address": f"{pn:04d}{secrets.randbelow(10**8):08d}", "installed_at": INSTALLED.isoformat()}


def _reading(meter: str, item: str, at: datetime, value: float, *, unit: str = "kWh",
             source: ReadingSource = ReadingSource.SCHEDULED, quality: int = 0) -> Reading:
    return Reading(meter_id=meter, item=item, data_time=at, value=value, unit=unit, source=source,
                   collected_at=at + timedelta(minutes=3), quality=quality)


def _event(terminal: str, meter: str | None, code: str, cls: EventClass, at: datetime, **detail: Any) -> DeviceEvent:
    return DeviceEvent(terminal=terminal, meter_id=meter, code=code, event_class=cls, occurred_at=at,
                       received_at=at + timedelta(seconds=40), detail=detail)


@pytest.fixture(scope="module")
async def world(archive_service: Service, producer: BusProducer) -> dict[str, Any]:
    """Company A: electricity points A1 (two items), A2 (a reading 500 days old only), A3 (no reading) and
    a water point AW, all on A's concentrator; company B: point B1 on B's. Events of A1's meter, of A's
    concentrator itself (no meter) and of B1's meter, published on the bus."""
    api = archive_service.client
    run = secrets.token_hex(3)
    a = await seed_reference(api, run)
    b = await seed_reference(api, secrets.token_hex(3))
    a1, a2, a3, aw, b1 = (f"A{run}-1", f"A{run}-2", f"A{run}-3", f"A{run}-W", f"B{run}-1")
    for rows in ([_customer(a, a1, "electricity", 1), _customer(a, a2, "electricity", 2),
                  _customer(a, a3, "electricity", 3), _customer(a, aw, "water", 4)],
                 [_customer(b, b1, "electricity", 1)]):
        resp = await api.post("/api/v1/import/customer-meters", json=rows, headers=ADMIN)
        assert resp.status_code == 200, resp.text

    readings = [
        *(_reading(f"{a1}-M", TOTAL, BASE + timedelta(days=d), 100.0 + d) for d in range(5)),
        *(_reading(f"{a1}-M", T1, BASE + timedelta(days=d), 10.0 + d / 2, quality=4 if d == 2 else 0)
          for d in range(3)),
        _reading(f"{a2}-M", TOTAL, TODAY - timedelta(days=500), 7.0),
        *(_reading(f"{aw}-M", WATER, BASE + timedelta(days=d), 30.0 + d, unit="m3") for d in range(4)),
        _reading(f"{b1}-M", TOTAL, BASE + timedelta(days=1), 555.0),
    ]
    stored = await archive_service.archive.raw.store([RawReadingBatch(batch_id=f"l-{run}", terminal="t",
                                                                      readings=readings)])
    assert stored.stored == len(readings)
    # a back-fill of an older day, stored after the newest: latest goes by data time, not by arrival
    late = await archive_service.archive.raw.store([RawReadingBatch(batch_id=f"l-{run}-late", terminal="t", readings=[
        _reading(f"{a1}-M", TOTAL, BASE + timedelta(days=3, hours=12), 103.4,
                 source=ReadingSource.BACKFILL)])])
    assert late.stored == 1

    ta, tb = a["terminal_address"] + "00", b["terminal_address"] + "00"
    at = BASE + timedelta(hours=9)
    events = [
        _event(ta, f"{a1}-M", "ERC13", EventClass.IMPORTANT, at, phase="A"),
        _event(ta, f"{a1}-M", "ERC14", EventClass.NORMAL, at + timedelta(days=1)),
        _event(ta, f"{a1}-M", "ERC13", EventClass.IMPORTANT, at + timedelta(days=2), phase="B"),
        _event(ta, f"{a1}-M", "ERC14", EventClass.NORMAL, at + timedelta(days=2)),  # same time as the one above
        _event(ta, f"{a1}-M", "ERC33", EventClass.NORMAL, at + timedelta(days=3)),
        _event(ta, None, "ERC14", EventClass.IMPORTANT, at + timedelta(days=4)),  # the concentrator's own
        _event(tb, f"{b1}-M", "ERC13", EventClass.IMPORTANT, at + timedelta(days=1)),
        _event(tb, f"{b1}-M", "ERC14", EventClass.NORMAL, at + timedelta(days=3)),
    ]
    await producer.publish_many(events)

    async def all_stored() -> bool:
        resp = await api.get("/api/v1/events", headers=ADMIN, params={
            "terminals": [ta, tb], "from": BASE.isoformat(), "to": TODAY.isoformat()})
        return resp.status_code == 200 and int(resp.json()["count"]) == len(events)

    await eventually(all_stored)
    return {"run": run, "a": a, "b": b, "ta": ta, "tb": tb, "at": at,
            "points": {"a1": a1, "a2": a2, "a3": a3, "aw": aw, "b1": b1}}


def _span(start: datetime = BASE, end: datetime = TODAY) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()}


def _detail(row: dict[str, Any]) -> Any:
    """The event's detail (today a JSON text, see test_event_detail_is_a_json_object)."""
    detail = row["detail"]
    return json.loads(detail) if isinstance(detail, str) else detail


def _order_key(row: dict[str, Any]) -> tuple[datetime, uuid.UUID]:
    return datetime.fromisoformat(row["occurred_at"]), uuid.UUID(row["event_id"])


async def _events(api: httpx.AsyncClient, params: dict[str, Any], headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    resp = await api.get("/api/v1/events", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


# ---------------------------------------------------------------- /events


async def test_events_of_a_customer_newest_first_with_their_values(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    a1, at = world["points"]["a1"], world["at"]
    body = await _events(api, {"customers": a1, **_span()}, VIEWER)
    rows = body["rows"]
    assert body["count"] == 5 and body["next_cursor"] is None
    assert [datetime.fromisoformat(r["occurred_at"]) - at for r in rows] == [
        timedelta(days=3), timedelta(days=2), timedelta(days=2), timedelta(days=1), timedelta(0)]
    assert [(r["code"], r["event_class"]) for r in (rows[0], rows[3], rows[4])] == [
        ("ERC33", "normal"), ("ERC14", "normal"), ("ERC13", "important")]
    assert {(r["code"], r["event_class"]) for r in rows[1:3]} == {("ERC13", "important"), ("ERC14", "normal")}
    keys = [_order_key(r) for r in rows]
    assert keys == sorted(keys, reverse=True), "newest first, then event id descending"
    first = rows[-1]
    # the meter's event is stored on the point the meter was on at the time, with its own fields
    assert first["metering_point_id"] == f"{a1}-P" and first["meter_id"] == f"{a1}-M"
    assert first["terminal"] == world["ta"] and _detail(first) == {"phase": "A"}
    assert datetime.fromisoformat(first["received_at"]) == at + timedelta(seconds=40)
    assert len({r["event_id"] for r in rows}) == 5


async def test_event_detail_is_a_json_object(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    body = await _events(api, {"customers": world["points"]["a1"], "classes": "important", **_span()})
    assert [r["detail"] for r in body["rows"]] == [{"phase": "B"}, {"phase": "A"}]


async def test_events_filters_class_code_terminal_and_time(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    a1, at, ta, tb = world["points"]["a1"], world["at"], world["ta"], world["tb"]
    important = await _events(api, {"customers": a1, "classes": "important", **_span()})
    assert [r["code"] for r in important["rows"]] == ["ERC13", "ERC13"]
    assert [_detail(r) for r in important["rows"]] == [{"phase": "B"}, {"phase": "A"}]
    codes = await _events(api, {"terminals": [ta, tb], "codes": ["ERC14", "ERC33"], **_span()})
    assert sorted((r["terminal"], r["code"]) for r in codes["rows"]) == sorted(
        [(ta, "ERC14"), (ta, "ERC14"), (ta, "ERC33"), (ta, "ERC14"), (tb, "ERC14")])
    # the concentrator's own event has no meter and no point; a selection by point leaves it out
    own = await _events(api, {"terminals": ta, "classes": "important", "codes": "ERC14", **_span()})
    assert [(r["meter_id"], r["metering_point_id"]) for r in own["rows"]] == [(None, None)]
    by_region = await _events(api, {"regions": world["a"]["region"], "terminals": ta, **_span()})
    assert by_region["count"] == 5 and all(r["metering_point_id"] == f"{a1}-P" for r in by_region["rows"])
    # [from, to): an event exactly at 'from' is in, one exactly at 'to' is out
    window = await _events(api, {"customers": a1, **_span(at + timedelta(days=1), at + timedelta(days=3))})
    assert sorted(datetime.fromisoformat(r["occurred_at"]) - at for r in window["rows"]) == [
        timedelta(days=1), timedelta(days=2), timedelta(days=2)]
    none = await _events(api, {"customers": a1, "codes": "ERC99", **_span()})
    assert none == {"rows": [], "count": 0, "next_cursor": None}


async def test_events_cursor_paging_returns_each_event_once_in_order(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    params = {"terminals": [world["ta"], world["tb"]], **_span()}
    whole = (await _events(api, params))["rows"]
    assert len(whole) == 8
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for _ in range(10):
        body = await _events(api, {**params, "limit": 3, **({"cursor": cursor} if cursor else {})})
        pages.append(body["rows"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [r for p in pages for r in p] == whole
    # exactly one page's worth left: no cursor on the last, full page
    exact = await _events(api, {**params, "limit": 8})
    assert exact["count"] == 8 and exact["next_cursor"] is None


async def test_events_are_limited_to_the_callers_company(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    a, b, p = world["a"], world["b"], world["points"]
    a_viewer = token("viewer", "a-viewer", companies=(a["company"],))
    mine = await _events(api, {"terminals": [world["ta"], world["tb"]], **_span()}, a_viewer)
    assert mine["count"] == 5 and {r["metering_point_id"] for r in mine["rows"]} == {f"{p['a1']}-P"}
    # naming B's point or B's concentrator finds nothing; naming company B is refused with the reason
    assert (await _events(api, {"customers": p["b1"], **_span()}, a_viewer))["count"] == 0
    assert (await _events(api, {"terminals": world["tb"], **_span()}, a_viewer))["count"] == 0
    refused = await api.get("/api/v1/events", headers=a_viewer, params={"companies": b["company"], **_span()})
    assert refused.status_code == 403 and b["company"] in refused.json()["detail"]
    assert "outside your data scope" in refused.json()["detail"]
    b_viewer = token("viewer", "b-viewer", companies=(b["company"],))
    theirs = await _events(api, {"terminals": [world["ta"], world["tb"]], **_span()}, b_viewer)
    assert [r["code"] for r in theirs["rows"]] == ["ERC14", "ERC13"]


@pytest.mark.parametrize(("params", "status", "reason"), [
    ({"to": "2026-01-02T00:00:00Z"}, 422, "from"),
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "'to' must be after 'from'"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "'to' must be after 'from'"),
    ({"from": "2010-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "at most"),
    ({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}, 422, "from"),
    ({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00"}, 422, "timezone"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "limit": 0}, 422, "limit"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "limit": 10_001}, 422, "limit"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "cursor": "not-a-cursor"}, 400, "cursor"),
    ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "utilities": "steam"}, 422, "utilities"),
])
async def test_events_bad_requests_say_why(api: httpx.AsyncClient, world: dict[str, Any], params: dict[str, Any],
                                           status: int, reason: str) -> None:
    resp = await api.get("/api/v1/events", headers=VIEWER, params=params)
    assert resp.status_code == status, resp.text
    assert reason.lower() in resp.text.lower(), resp.text  # the reason: in "detail" or in "errors"


async def test_events_need_a_token_and_respect_the_role_row_limit(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    assert (await api.get("/api/v1/events", params=_span())).status_code == 401
    over = await api.get("/api/v1/events", headers=VIEWER, params={**_span(), "limit": 6000})
    assert over.status_code == 422 and "page with the cursor" in over.json()["detail"]
    assert (await api.get("/api/v1/events", headers=ADMIN, params={**_span(), "limit": 6000})).status_code == 200


# ---------------------------------------------------------------- /readings/latest


async def _latest(api: httpx.AsyncClient, params: dict[str, Any],
                  headers: dict[str, str] = VIEWER) -> list[dict[str, Any]]:
    resp = await api.get("/api/v1/readings/latest", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


async def test_latest_is_the_newest_value_of_each_item(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    a1 = world["points"]["a1"]
    rows = await _latest(api, {"customers": a1})
    # ordered by item ("…import.t1" before "…import.total"); the total's newest is day 4, not the
    # back-fill of day 3½ stored after it
    assert [(r["metering_point_id"], r["item"], r["value"], datetime.fromisoformat(r["data_time"]))
            for r in rows] == [(f"{a1}-P", T1, 11.0, BASE + timedelta(days=2)),
                               (f"{a1}-P", TOTAL, 104.0, BASE + timedelta(days=4))]
    by_item = {r["item"]: r for r in rows}
    total, t1 = by_item[TOTAL], by_item[T1]
    assert total["meter_id"] == f"{a1}-M" and total["unit"] == "kWh" and total["source"] == "scheduled"
    assert total["quality"] == 0 and t1["quality"] == 4
    assert datetime.fromisoformat(total["collected_at"]) == BASE + timedelta(days=4, minutes=3)


async def test_latest_filters_items_and_orders_by_point_then_item(
        api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    p = world["points"]
    only_t1 = await _latest(api, {"metering_points": [f"{p['a1']}-P", f"{p['aw']}-P"], "items": T1})
    assert [(r["metering_point_id"], r["item"], r["value"]) for r in only_t1] == [(f"{p['a1']}-P", T1, 11.0)]
    region = await _latest(api, {"regions": world["a"]["region"]})
    # A2's only reading is 500 days old (older than latest looks back) and A3 has none: neither is listed
    assert [(r["metering_point_id"], r["item"]) for r in region] == sorted(
        [(f"{p['a1']}-P", TOTAL), (f"{p['a1']}-P", T1), (f"{p['aw']}-P", WATER)])
    water = next(r for r in region if r["item"] == WATER)
    assert water["value"] == 33.0 and water["unit"] == "m3"
    by_meter = await _latest(api, {"meters": f"{p['b1']}-M"}, ADMIN)
    assert [(r["metering_point_id"], r["value"]) for r in by_meter] == [(f"{p['b1']}-P", 555.0)]
    assert await _latest(api, {"customers": p["a3"]}) == []


async def test_latest_is_limited_to_the_callers_company(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    a, b, p = world["a"], world["b"], world["points"]
    a_viewer = token("viewer", "a-viewer", companies=(a["company"],))
    both = {"metering_points": [f"{p['a1']}-P", f"{p['b1']}-P"], "items": TOTAL}
    assert [r["metering_point_id"] for r in await _latest(api, both, a_viewer)] == [f"{p['a1']}-P"]
    assert [r["metering_point_id"] for r in await _latest(api, both, ADMIN)] == sorted([f"{p['a1']}-P",
                                                                                        f"{p['b1']}-P"])
    assert await _latest(api, {"customers": p["b1"]}, a_viewer) == []
    refused = await api.get("/api/v1/readings/latest", headers=a_viewer, params={"companies": b["company"]})
    assert refused.status_code == 403 and b["company"] in refused.json()["detail"]


async def test_latest_bad_requests_say_why(api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    p = world["points"]
    nothing = await api.get("/api/v1/readings/latest", headers=VIEWER)
    assert nothing.status_code == 400 and "name the metering points" in nothing.json()["detail"]
    too_many = await api.get("/api/v1/readings/latest", headers=VIEWER,
                             params={"regions": world["a"]["region"], "limit": 2})
    assert too_many.status_code == 422
    assert too_many.json()["detail"] == "the selection has 4 metering points; at most 2 at once"
    for limit in (0, 10_001):
        resp = await api.get("/api/v1/readings/latest", headers=VIEWER, params={"customers": p["a1"], "limit": limit})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["query", "limit"], resp.text
    over_role = await api.get("/api/v1/readings/latest", headers=VIEWER, params={"customers": p["a1"], "limit": 6000})
    assert over_role.status_code == 422 and "page with the cursor" in over_role.json()["detail"]
    steam = await api.get("/api/v1/readings/latest", headers=VIEWER, params={"utilities": "steam"})
    assert steam.status_code == 422 and "utilities" in steam.text, steam.text
    assert (await api.get("/api/v1/readings/latest", params={"customers": p["a1"]})).status_code == 401
