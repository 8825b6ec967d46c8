"""HTTP interface to the ground truth: meters, true values, frozen values, field events, terminal status,
terminal protection (保电), the terminals' tariff in force (AFN04 F21 / F22).

Served by the simulator process itself (so trips and time syncs it received
are part of the answers). Bad input is a 4xx with a reason, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query

from emms_sim import curves, tariffs
from emms_sim.calendar import parse_instant
from emms_sim.fleet import parse_meter_id
from emms_sim.items import ITEMS
from emms_sim.manifest import meter_entry, terminal_entry
from emms_sim.truth import GroundTruth

MAX_EVENT_SPAN = timedelta(days=31)

StatusFn = Callable[[], list[dict[str, Any]]]
RuntimeEventsFn = Callable[[datetime, datetime, int | None], list[dict[str, Any]]]


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(tz=UTC)
    try:
        return parse_instant(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise HTTPException(422, f"'{text}' is not an ISO 8601 instant or epoch seconds") from exc


def _meter(truth: GroundTruth, meter_id: str) -> Any:
    meter = truth.fleet.meter_by_id(meter_id)
    if meter is None:
        raise HTTPException(404, f"no meter {meter_id!r} in this fleet")
    return meter


class TruthRoutes:
    """The route handlers, bound to one truth and the running fleet's status callbacks."""

    def __init__(self, truth: GroundTruth, status: StatusFn | None, runtime_events: RuntimeEventsFn | None) -> None:
        self.truth, self.status, self.runtime_events = truth, status, runtime_events

    def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    def items(self) -> dict[str, Any]:
        return {n: {"unit": i.unit, "utilities": i.utilities, "decimals": i.decimals, "cumulative": i.cumulative}
                for n, i in ITEMS.items()}

    def terminals(self) -> list[dict[str, Any]]:
        if self.status is not None:
            return self.status()
        return [{"index": t, "key": self.truth.fleet.terminal(t).key} for t in self.truth.fleet.terminals()]

    def meters(self, terminal: Annotated[int | None, Query(ge=0)] = None,
               offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
               ) -> dict[str, Any]:
        fleet = self.truth.fleet
        if terminal is not None:
            if terminal >= fleet.config.concentrators:
                raise HTTPException(404, f"no terminal #{terminal}")
            return {"terminals": [terminal_entry(fleet, terminal)]}
        out = []
        per = len(fleet.pns(0))
        first = offset // per
        skip = offset % per
        for t in range(first, fleet.config.concentrators):
            term = fleet.terminal(t)
            for m in fleet.meters_of(t)[skip:]:
                out.append({"terminal": term.key, "terminal_index": t, **meter_entry(m, fleet.config.meters_per)})
                if len(out) >= limit:
                    return {"meters": out, "next_offset": t * per + m.pn}
            skip = 0
        return {"meters": out, "next_offset": None}

    def truth_value(self, meter: str, item: str | None = None, at: str | None = None) -> dict[str, Any]:
        spec = _meter(self.truth, meter)
        instant = _instant(at)
        if item is not None and item not in ITEMS:
            raise HTTPException(422, f"unknown item {item!r}; GET /items lists them")
        reading = self.truth.reading_of(spec, instant.timestamp())
        body: dict[str, Any] = {"meter": meter, "at": instant.isoformat(), "present": reading is not None,
                                "generation": spec.generation(instant.timestamp()),
                                "address": spec.address(spec.generation(instant.timestamp()))}
        if item is None:
            body["values"] = reading
        else:
            body.update(item=item, unit=ITEMS[item].unit, value=None if reading is None else reading.get(item))
        return body

    def frozen(self, meter: str, date_: Annotated[str, Query(alias="date")], kind: str = "daily") -> dict[str, Any]:
        spec = _meter(self.truth, meter)
        try:
            if kind == "daily":
                instant = self.truth.daily_freeze_instant(date.fromisoformat(date_))
            elif kind == "monthly":
                year, month = (int(x) for x in date_.split("-")[:2])
                instant = self.truth.monthly_freeze_instant(year, month)
            else:
                raise HTTPException(422, "kind must be daily or monthly")
        except ValueError as exc:
            raise HTTPException(422, f"bad date {date_!r}: YYYY-MM-DD (daily) or YYYY-MM (monthly)") from exc
        return {"meter": meter, "kind": kind, "date": date_, "instant": instant.isoformat(),
                "values": self.truth.reading_of(spec, instant.timestamp())}

    def curve(self, meter: str, item: str, start: str,
              interval_min: Annotated[int, Query(ge=1, le=60)] = 15,
              points: Annotated[int, Query(ge=1, le=curves.MAX_CURVE_POINTS)] = 96) -> dict[str, Any]:
        """``points`` true values of an instantaneous ``item`` from ``start`` every ``interval_min`` minutes
        (what a 1376.1 load curve of the meter carries; None where the meter was not installed)."""
        spec = _meter(self.truth, meter)
        if item not in ITEMS or ITEMS[item].cumulative:
            raise HTTPException(422, f"{item!r} is not an instantaneous item; GET /items lists them")
        first = _instant(start)
        step = timedelta(minutes=interval_min)
        values = curves.points(self.truth.model, spec, [item], first, step, points)[item]
        return {"meter": meter, "item": item, "unit": ITEMS[item].unit, "start": first.isoformat(),
                "interval_min": interval_min,
                "points": [{"at": (first + i * step).isoformat(), "value": v} for i, v in enumerate(values)]}

    def events(self, terminal: Annotated[int | None, Query(ge=0)] = None, meter: str | None = None,
               since: str | None = None, until: str | None = None) -> dict[str, Any]:
        end = _instant(until)
        start = _instant(since) if since is not None else end - timedelta(days=1)
        if not start < end or end - start > MAX_EVENT_SPAN:
            raise HTTPException(422, "need since < until and a span of at most 31 days")
        if meter is not None:
            try:
                terminal = parse_meter_id(meter)[0]
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from exc
        fleet = self.truth.fleet
        if terminal is not None and terminal >= fleet.config.concentrators:
            raise HTTPException(404, f"no terminal #{terminal}")
        indexes = [terminal] if terminal is not None else list(fleet.terminals())
        out: list[dict[str, Any]] = []
        for t in indexes:
            out.extend(e.as_json(self.truth.cal) | {"terminal": fleet.terminal(t).key, "source": "schedule"}
                       for e in self.truth.events(t, start, end) if meter is None or e.meter_id == meter)
        if self.runtime_events is not None:
            extra = self.runtime_events(start, end, terminal)
            out.extend(e for e in extra if meter is None or e.get("meter_id") == meter)
        out.sort(key=lambda e: str(e["at"]))
        return {"since": start.isoformat(), "until": end.isoformat(), "events": out}

    def protection(self, terminal: Annotated[int | None, Query(ge=0)] = None, at: str | None = None
                   ) -> dict[str, Any]:
        """Protection (AFN05 F25 / F33) in force at ``at``: of one terminal, or of every terminal ever protected."""
        instant = _instant(at)
        fleet, ledger = self.truth.fleet, self.truth.ledger
        if terminal is not None and terminal >= fleet.config.concentrators:
            raise HTTPException(404, f"no terminal #{terminal}")
        keys = [fleet.terminal(terminal).key] if terminal is not None else ledger.protected_terminals()
        rows = []
        for key in keys:
            span = ledger.protection(key, instant.timestamp())
            since, until = span if span is not None else (None, None)
            rows.append({"terminal": key, "protected": span is not None, "since": _iso(since), "until": _iso(until)})
        return {"at": instant.isoformat(), "terminals": rows}

    def purses(self, key: str | None = None, at: str | None = None) -> dict[str, Any]:
        """Prepayment purses (a meter id or ``<terminal key>/<group>``; all when omitted) settled to ``at``."""
        instant = _instant(at)
        return {"at": instant.isoformat(), "purses": self.truth.purse_states(key, instant)}


    def tariff(self, terminal: Annotated[int | None, Query(ge=0)] = None, key: str | None = None) -> dict[str, Any]:
        """The tariff a terminal holds now (by index or address key): F21 periods (0-based rate numbers per half
        hour, M, and the runs of equal rate, 1-based) and F22 rates (厘 per kWh); ``told`` false = the default."""
        fleet = self.truth.fleet
        if terminal is not None:
            if terminal >= fleet.config.concentrators:
                raise HTTPException(404, f"no terminal #{terminal}")
            key = fleet.terminal(terminal).key
        elif key is None:
            raise HTTPException(422, "give terminal (index) or key")
        else:
            key = key.upper()
            if not any(fleet.terminal(t).key == key for t in fleet.terminals()):
                raise HTTPException(404, f"no terminal {key!r} in this fleet")
        held = self.truth.ledger.tariff(key)
        return {"terminal": key, "told": held is not None, "since": _iso(held["since"]) if held else None,
                **tariffs.tariff_of(self.truth.ledger, key).as_json()}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat()


def create_app(truth: GroundTruth, status: StatusFn | None = None, runtime_events: RuntimeEventsFn | None = None
               ) -> FastAPI:
    """The truth API of one simulator process."""
    app = FastAPI(title="EMMS simulator truth", version="1")
    routes = TruthRoutes(truth, status, runtime_events)
    for path, handler in (("/healthz", routes.healthz), ("/items", routes.items), ("/terminals", routes.terminals),
                          ("/meters", routes.meters), ("/truth", routes.truth_value), ("/frozen", routes.frozen),
                          ("/events", routes.events), ("/protection", routes.protection), ("/curve", routes.curve),
                          ("/purses", routes.purses), ("/tariff", routes.tariff)):
        app.get(path)(handler)
    return app
