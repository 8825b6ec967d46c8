"""Heat figures as pure functions: places in the node tree, per-customer figures, groups, intervals, rates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emms_analytics.heat import figures
from emms_analytics.heat.repository import HeatCustomer, Node, PointFigures

NODES = {n.node_id: n for n in (
    Node("S", "heat_exchange_station", "station", None), Node("A", "area", "community", "S"),
    Node("B", "building", "building", "A"), Node("U", "unit", "unit", "B"), Node("F", "floor", "floor", "U"),
    Node("X", "floor", "loop", "Y"), Node("Y", "unit", "loop", "X"))}


def _customer(cid: str, node: str | None, area: float | None = 50.0) -> HeatCustomer:
    return HeatCustomer(cid, node, area, "CO", "R")


def test_a_customer_is_placed_at_every_level_above_its_node() -> None:
    where = figures.places([_customer("c1", "F"), _customer("c2", "B"), _customer("c3", None),
                            _customer("c4", "X")], NODES)
    assert where["c1"] == {"floor": "F", "unit": "U", "building": "B", "community": "A", "station": "S"}
    assert where["c2"] == {"floor": None, "unit": None, "building": "B", "community": "A", "station": "S"}
    assert set(where["c3"].values()) == {None}
    assert where["c4"]["floor"] == "X" and where["c4"]["unit"] == "Y"  # a cycle in the data ends the walk


def test_per_customer_sums_points_and_weights_means() -> None:
    rows = [PointFigures("p1", "c1", "heat.energy", 10.0, 25.0, 0, 2),
            PointFigures("p2", "c1", "heat.energy", 1.0, 2.0, 0, 2),
            PointFigures("p1", "c1", "temperature.supply", 0, 0, 60.0, 3),
            PointFigures("p2", "c1", "temperature.supply", 0, 0, 40.0, 1)]
    got = figures.per_customer(rows)["c1"]
    assert got.heat_kwh == 16.0 and got.supply_temperature_c == 55.0 and got.thermal_power_kw is None


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60),
       st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8, unique=True).map(sorted))
def test_every_customer_falls_in_exactly_one_interval(values: list[float], edges: list[float]) -> None:
    out = figures.distribution(values, edges)
    assert sum(i["customers"] for i in out) == len(values) and len(out) == len(edges) + 1
    for interval in out:
        lo, hi = interval["from"], interval["to"]
        assert interval["customers"] == sum(1 for v in values if (lo is None or v >= lo) and (hi is None or v < hi))


def test_heating_rates_and_comparison() -> None:
    customers = [_customer("c1", "F", 100.0), _customer("c2", "F", 50.0), _customer("c3", "B", 30.0)]
    where = figures.places(customers, NODES)
    per = figures.per_customer([PointFigures("p1", "c1", "heat.energy", 0, 200.0, 0, 2),
                                PointFigures("p3", "c3", "heat.energy", 0, 30.0, 0, 2)])
    (row,) = figures.heating("building", customers, where, {"c2"}, per, NODES)
    assert (row["households"], row["stopped_households"], row["heated_area_m2"]) == (3, 1, 130.0)
    assert row["stop_rate_area"] == round(50 / 180, 4) and row["heat_per_m2_kwh"] == round(230 / 130, 4)
    now = figures.totals("total", customers, where, per, NODES)
    before = [{**now[0], "heat_kwh": 115.0, "flow_m3": 0.0}]
    (cmp,) = figures.compared(now, before)
    assert cmp["heat_change_rate"] == 1.0 and cmp["flow_change_rate"] is None
