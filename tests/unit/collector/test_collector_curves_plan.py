"""Curve tasks: which items they read, the day they collect, the requests they plan, the readings they make;
the relay state of electricity meters read as a forwarded DL/T 645 status word."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from emms_collector.reading.datatime import curve_start, run_data_time
from emms_collector.reading.item_routing import check_items, choose
from emms_collector.reading.normalise import Stamp, from_points
from emms_collector.repository.points import Point
from emms_collector.scheduling.planner import PlanOptions, Wanted, plan
from emms_collector.tasks.model import TaskBody
from emms_collector.tasks.periods import zone
from emms_collector.tasks.types import TaskType
from emms_messages.readings import ReadingSource
from emms_protocol import dlt645
from emms_protocol.gdw1376 import DEVICE_TZ, DataUnit
from emms_protocol.gdw1376.afn0d_curves import Curve, CurveTag
from emms_protocol.gdw1376.afn10 import ForwardRequest
from emms_protocol.gdw1376.items_map import items_from_units
from emms_protocol.gdw1376.json_view import from_jsonable

TZ = zone("Asia/Shanghai")


def _task(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "curves", "type": "curve", "target": {"utilities": ["electricity"]},
                            "items": ["power.active.total", "voltage.a"], "period": {"unit": "daily", "at": "00:40"}}
    return base | kw


def test_curve_tasks_list_curve_items() -> None:
    assert TaskBody.model_validate(_task()).type is TaskType.CURVE
    with pytest.raises(ValidationError, match="lists its curves"):
        TaskBody.model_validate(_task(items=[]))
    with pytest.raises(ValidationError, match="cannot read"):
        TaskBody.model_validate(_task(items=["energy.active.import.total"]))
    assert check_items(TaskType.CURVE, ["power_factor.c", "current.n", "power.reactive.b"]) is None


def test_one_fn_per_curve_and_none_for_flow_meters() -> None:
    routes, uncovered = choose(TaskType.CURVE, "dlt645-2007", ["power.active.total", "voltage.a", "power_factor.total"])
    assert sorted(r.fn for r in routes) == [81, 89, 105] and uncovered == []
    assert all(r.tag == "curve" and r.afn == 0x0D for r in routes)
    assert choose(TaskType.CURVE, "cjt188", ["power.active.total"]) == ([], ["power.active.total"])


def test_a_run_collects_yesterdays_points_from_local_midnight() -> None:
    due = datetime(2026, 12, 5, 0, 40, tzinfo=TZ)
    assert run_data_time(TaskType.CURVE, due, TZ) == datetime(2026, 12, 4, 0, 0, tzinfo=TZ).astimezone(UTC)
    assert curve_start(date(2026, 12, 4), TZ) == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_planned_requests_carry_a_days_td_c_and_readings_are_per_point() -> None:
    points = [Point(f"m-{pn}", "3701-00001", pn, "electricity", "dlt645-2007") for pn in (1, 2, 9)]
    wanted = [Wanted(p, ("power.active.total",)) for p in points]
    opts = PlanOptions(purpose="scheduled", requested_by="test")
    planned = plan(TaskType.CURVE, wanted, date(2026, 12, 4), opts, datetime(2026, 12, 5, tzinfo=UTC))
    assert len(planned.requests) == 1 and not planned.unroutable
    request = planned.requests[0].request
    assert request.afn == 0x0D and [u.pn for u in request.units] == [[1, 2], [9]]
    tag = from_jsonable(request.units[0].data["value"])
    assert tag == CurveTag(datetime(2026, 12, 4, 0, 0), 1, 96)  # terminal time: local midnight
    start = datetime(2026, 12, 4, 0, 0, tzinfo=DEVICE_TZ)
    values = items_from_units(0x0D, [DataUnit(1, 81, Curve(start, 1, (1.5, None, 2.0))),
                                     DataUnit(1, 89, Curve(start, 1, (230.0,)))])
    stamp = Stamp(ReadingSource.SCHEDULED, datetime(2026, 12, 5, tzinfo=UTC), TZ)
    readings, unmatched = from_points(values, {1: points[0]}, "3701-00001", stamp,
                                      wanted={1: ["power.active.total"]})
    assert unmatched == 0
    assert [(r.item, r.data_time, r.value) for r in readings] == [
        ("power.active.total", start.astimezone(UTC), 1.5),
        ("power.active.total", (start + timedelta(minutes=30)).astimezone(UTC), 2.0)]


def test_relay_state_is_a_forwarded_645_status_word_read() -> None:
    point = Point("m-1", "3701-00001", 3, "electricity", "dlt645-2007", meter_address="000000000123", port=2)
    for task_type in (TaskType.REALTIME, TaskType.DAILY_FROZEN):
        routes, uncovered = choose(task_type, point.protocol, ["relay.state"])
        assert uncovered == [] and [(r.afn, r.fn, r.di, r.current) for r in routes] == [(0x10, 1, 0x04000503, True)]
    planned = plan(TaskType.REALTIME, [Wanted(point, ("relay.state",))], None,
                   PlanOptions(purpose="manual", requested_by="test"), datetime(2026, 12, 5, tzinfo=UTC))
    (request,) = planned.requests
    value = from_jsonable(request.request.units[0].data["value"])
    assert isinstance(value, ForwardRequest) and isinstance(value.inner, dlt645.Frame645)
    assert value.inner.address == "000000000123" and value.inner.body.di == 0x04000503  # type: ignore[union-attr]
