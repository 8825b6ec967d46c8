"""The network's truth per area and period, its topology for master data, and its HTTP routes.

``area_truth(model, area_id, t0, t1)`` answers what really happened between two instants:

* ``true_input`` — what entered the area (the head meter's primary energy / volume, before display rounding);
* ``true_outputs`` — the true consumption of the meters physically behind the head;
* ``technical_loss`` — ``loss_rate × true_outputs``; ``non_technical_loss`` — ``true_input − technical_loss −
  metered_outputs``: what the meters listed under the area in master data failed to count (a bypassed or
  stopped meter, a meter physically here but listed elsewhere, a leak), negative for an area that is listed a
  meter it does not feed;
* ``metered_input`` / ``metered_outputs`` — what the displayed registers count (head × CT; the listed meters), so
  ``metered_input − metered_outputs`` is the loss an analysis from the readings should find;
* ``cases`` and ``culprits`` — the injected cases touching the area and their meters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emms_sim.network import MAIN_ITEM, MAIN_REGISTER, Area, NetworkMeterModel


def _model(model: object) -> NetworkMeterModel:
    if not isinstance(model, NetworkMeterModel):
        raise ValueError("the fleet has no network (FleetConfig.network)")
    return model


def topology(model: object) -> dict[str, Any]:
    """The areas as master data should list them (with the wrong assignments), for the manifest."""
    net = _model(model).network
    return {"areas": [area_json(a) for a in net.areas()]}


def area_json(area: Area) -> dict[str, Any]:
    return {"id": area.area_id, "kind": area.kind, "node_kind": area.node_kind, "utility": area.utility,
            "terminals": list(area.terminals), "head_meter": area.head.meter_id, "head_pn": area.head.pn,
            "ct_ratio": area.ct_ratio, "item": MAIN_ITEM[area.utility], "members": list(area.listed)}


def area_truth(model: object, area_id: str, t0: float, t1: float) -> dict[str, Any]:
    m = _model(model)
    area = m.network.area(area_id)
    name = MAIN_REGISTER[area.utility]
    fleet = m.fleet
    true_out = sum(m.true_usage(s, name, t0, t1) for mid in area.physical if (s := fleet.meter_by_id(mid)))
    technical = area.loss_rate * true_out
    true_in = m.head_primary(area, name, t1) - m.head_primary(area, name, t0)
    metered_out = sum(m.shown_usage(s, name, t0, t1) for mid in area.listed if (s := fleet.meter_by_id(mid)))
    touching = [c for a in _neighbours(m, area) for c in a.cases
                if c.area_id == area.area_id or c.listed_under == area.area_id]
    culprits = sorted({c.meter_id for c in touching if c.meter_id is not None and c.since < t1})
    return {
        "area": area.area_id, "kind": area.kind, "utility": area.utility, "item": MAIN_ITEM[area.utility],
        "from": datetime.fromtimestamp(t0, UTC).isoformat(), "to": datetime.fromtimestamp(t1, UTC).isoformat(),
        "head_meter": area.head.meter_id, "ct_ratio": area.ct_ratio, "loss_rate_technical": area.loss_rate,
        "true_input": true_in, "true_outputs": true_out, "technical_loss": technical,
        "non_technical_loss": true_in - technical - metered_out, "metered_outputs": metered_out,
        "loss": true_in - metered_out, "cases": [c.as_json() for c in touching if c.since < t1],
        "culprits": culprits, "members": list(area.listed), "physical": list(area.physical),
    }


def _neighbours(m: NetworkMeterModel, area: Area) -> list[Area]:
    if area.kind != "transformer":
        return [area]
    n = m.fleet.config.concentrators
    g = area.terminals[0]
    return [m.network.area(f"TA-{k:06d}") for k in sorted({(g - 1) % n, g})]


def network_router(model: object) -> Any:
    """``GET /network`` (topology) and ``GET /network/loss?area=&from=&to=`` (the truth of an area)."""
    from fastapi import APIRouter, HTTPException, Query

    from emms_sim.calendar import parse_instant

    router = APIRouter()

    @router.get("/network")
    def network() -> dict[str, Any]:
        try:
            return topology(model)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/network/loss")
    def loss(area: str, start: str = Query(alias="from"), end: str = Query(alias="to")) -> dict[str, Any]:
        try:
            t0, t1 = parse_instant(start).timestamp(), parse_instant(end).timestamp()
        except ValueError as exc:
            raise HTTPException(422, f"from / to: {exc}") from exc
        if t1 <= t0:
            raise HTTPException(422, "to must be after from")
        try:
            return area_truth(model, area, t0, t1)
        except KeyError as exc:
            raise HTTPException(404, f"no area {area}") from exc
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc

    return router
