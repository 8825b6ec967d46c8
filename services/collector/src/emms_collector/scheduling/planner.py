"""The request planner: a terminal's meters × items → as few downlink requests as the protocol allows.

For the concentrator's own data (AFN 0C / 0D) meters that need the same Fn are
put in one frame, up to ``max_points_per_request`` points; inside a frame the
points are grouped by their DA group (pn 1–8, 9–16, …) so each DA/DT unit
covers up to eight points at once. A forwarded meter read (AFN 10 F1) carries
one meter. Each :class:`PlannedRequest` remembers which meter and items each
point stands for, so an answer is attributed without guessing.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from emms_collector.reading.datatime import CURVE_DENSITY, CURVE_POINTS
from emms_collector.reading.item_routing import CJT188, DLT645, Route, choose
from emms_collector.repository.points import Point
from emms_collector.tasks.types import TaskType
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol import cjt188, dlt645
from emms_protocol.gdw1376.afn10 import control_word

_188_TYPES = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}
_188_SERIAL = control_word(2400, "even")
_FRAME_TIMEOUT = 0x80 | 5  # 5 s
_BYTE_TIMEOUT = 10  # 100 ms


@dataclass(frozen=True, slots=True)
class Wanted:
    """One meter and the items a run (or manual read) still needs from it."""

    point: Point
    items: tuple[str, ...]


@dataclass(slots=True)
class PlannedRequest:
    request: DownlinkRequest
    route: Route
    meters: dict[int, Wanted] = field(default_factory=dict)  # pn → meter (pn 0 for a forwarded read)

    @property
    def terminal(self) -> str:
        return self.request.terminal


@dataclass(frozen=True, slots=True)
class PlanOptions:
    purpose: str
    requested_by: str
    max_points: int = 32
    timeout_s: float = 10.0
    fep_retries: int = 1
    priority: int = 5
    send_within_s: float = 60.0


@dataclass(slots=True)
class Plan:
    requests: list[PlannedRequest] = field(default_factory=list)
    unroutable: list[tuple[Wanted, list[str]]] = field(default_factory=list)


def _request_id(purpose: str) -> str:
    return f"col-{purpose}-{secrets.token_hex(8)}"


def plan(task_type: TaskType, wanted: Sequence[Wanted], tag: date | None, opts: PlanOptions, now: datetime) -> Plan:
    """Requests for ``wanted`` (any terminals); ``tag`` is the freeze date for frozen-data routes."""
    out = Plan()
    batches: dict[tuple[str, Route], list[Wanted]] = defaultdict(list)
    for w in wanted:
        routes, uncovered = choose(task_type, w.point.protocol, w.items)
        if uncovered:
            out.unroutable.append((w, uncovered))
        for route in routes:
            items = tuple(i for i in w.items if i in route.items)
            if route.batchable:
                batches[(w.point.terminal, route)].append(Wanted(w.point, items))
            else:
                out.requests.append(_forward(route, Wanted(w.point, items), opts, now))
    for (terminal, route), group in batches.items():
        group.sort(key=lambda w: w.point.pn)
        for start in range(0, len(group), opts.max_points):
            out.requests.append(_points(terminal, route, group[start:start + opts.max_points], tag, opts, now))
    return out


def _expires(opts: PlanOptions, now: datetime) -> datetime:
    """A provisional send deadline; the dispatcher sets the real one when the request leaves."""
    return now + timedelta(seconds=opts.send_within_s)


def _points(terminal: str, route: Route, group: list[Wanted], tag: date | None, opts: PlanOptions,
            now: datetime) -> PlannedRequest:
    by_da: dict[int, list[int]] = defaultdict(list)
    for w in group:
        by_da[(w.point.pn - 1) // 8].append(w.point.pn)
    data: dict[str, object] = {}
    if route.tag == "curve" and tag is not None:  # Td_c: the day's points from local 00:00 of the terminal's clock
        data = {"value": {"type": "CurveTag", "start": f"{tag.isoformat()}T00:00:00", "density": CURVE_DENSITY,
                          "points": CURVE_POINTS}}
    elif route.tag and tag is not None:
        data = {"value": tag.isoformat()}
    units = [DataUnitRequest(pn=pns, fn=[route.fn], data=data) for _, pns in sorted(by_da.items())]
    request = DownlinkRequest(request_id=_request_id(opts.purpose), terminal=terminal, afn=route.afn, units=units,
                              requested_by=opts.requested_by, timeout_s=opts.timeout_s, retries=opts.fep_retries,
                              priority=opts.priority, expires_at=_expires(opts, now))
    return PlannedRequest(request, route, {w.point.pn: w for w in group})


def _forward(route: Route, w: Wanted, opts: PlanOptions, now: datetime) -> PlannedRequest:
    if route.forward == CJT188:
        meter_type = _188_TYPES.get(w.point.utility, cjt188.WATER_COLD)
        payload = cjt188.read_request(meter_type, w.point.meter_address, route.di or 0x901F)
    elif route.forward == DLT645 and route.di is not None:
        payload = dlt645.read_request(w.point.meter_address, route.di)
    else:
        raise ValueError(f"no forwarding for {route.forward}")
    value = {"type": "ForwardRequest", "port": w.point.port or 2, "control": _188_SERIAL,
             "frame_timeout": _FRAME_TIMEOUT, "byte_timeout": _BYTE_TIMEOUT, "payload": payload.hex()}
    request = DownlinkRequest(request_id=_request_id(opts.purpose), terminal=w.point.terminal, afn=route.afn,
                              units=[DataUnitRequest(pn=[0], fn=[route.fn], data={"value": value})],
                              requested_by=opts.requested_by, timeout_s=opts.timeout_s, retries=opts.fep_retries,
                              priority=opts.priority, expires_at=_expires(opts, now))
    return PlannedRequest(request, route, {0: w})
