"""Load curves from the truth: AFN 0D curve answers (F81 – F95, F105 – F108) and the truth API's ``/curve``.

A curve point at instant t is the meter's instantaneous value at t. The
model's instantaneous values are the average rates of the 15-minute slot that
starts at t, so the 96 points of a 15-minute active-power curve of a day
integrate (Σ p · ¼ h) exactly to that day's active energy (import − export),
up to the registers' 0.01 kWh resolution and the curve's 0.0001 kW. Points
after the answer's instant, or while the meter is not installed, are absent
(``EE`` on the wire), and so are values the Fn's format cannot hold (A.9 ends at ±79.9999 kW: the
largest commercial meters' peaks). Water, gas and heat points have no 1376.1 curves.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import DEFAULT_OPTIONS, DataUnit, Options
from emms_protocol.gdw1376.afn0d_curves import CURVE_FNS, Curve, CurveTag
from emms_sim.fleet import MeterSpec
from emms_sim.meters import MeterModel, Reading
from emms_sim.terminal_state import TerminalState

MAX_CURVE_POINTS = 2976  # 31 days of 15-minute points: the truth API's bound
_KEPT = 100_000
_instants: OrderedDict[tuple[int, float], Reading | None] = OrderedDict()
"""Past instants' values, shared by the requests of one process (a curve task asks each Fn of the same points
in its own frame). Only instants not after the answer's are kept: commands change values after they happen,
never before, so a kept value stays true."""


def _instant(state: TerminalState, meter: MeterSpec, ts: float) -> Reading | None:
    key = (meter.key, ts)
    if key in _instants:
        _instants.move_to_end(key)
        return _instants[key]
    found = state.truth.model.instant(meter, ts)
    _instants[key] = found
    if len(_instants) > _KEPT:
        _instants.popitem(last=False)
    return found


def points(model: MeterModel, meter: MeterSpec, items: Iterable[str], start: datetime, step: timedelta,
           count: int, until: float | None = None) -> dict[str, list[float | None]]:
    """``count`` true points of each item (canonical units) from ``start`` every ``step``; None after ``until``
    or without the meter."""
    wanted = list(items)
    out: dict[str, list[float | None]] = {item: [] for item in wanted}
    for i in range(count):
        ts = (start + i * step).timestamp()
        reading: Reading | None = None if until is not None and ts > until else model.reading(meter, ts)
        for item in wanted:
            out[item].append(None if reading is None else reading.get(item))
    return out


def _fits(enc: Callable[[object, Options], bytes], value: float) -> bool:
    try:
        enc(value, DEFAULT_OPTIONS)
    except ProtocolError:
        return False
    return True


def answer(state: TerminalState, unit: DataUnit, ts: float, cache: dict[tuple[int, int, datetime | None], Reading]
           ) -> DataUnit | None:
    """The answer to one curve request unit (``unit.value`` a :class:`CurveTag`); None when nothing to answer."""
    tag = unit.value
    kind = CURVE_FNS.get(unit.fn)
    if not isinstance(tag, CurveTag) or kind is None or tag.start is None:
        return None
    start = tag.start.astimezone(UTC)
    meter = state.meter_at(unit.pn, start.timestamp()) or state.meter_at(unit.pn, ts)
    if meter is None or meter.utility != "electricity":
        return None
    step = timedelta(minutes={1: 15, 2: 30, 3: 60, 254: 5, 255: 1}[tag.density])
    values: list[float | None] = []
    for i in range(tag.points):
        at = start + i * step
        key = (unit.pn, tag.density, at)
        reading = cache.get(key)
        if reading is None and at.timestamp() <= ts:
            found = _instant(state, meter, at.timestamp())
            if found is not None:
                reading = cache[key] = found
        value = None if reading is None else reading.get(kind.item)
        if value is not None and kind.percent:
            value = round(value * 100.0, 1)
        values.append(value if value is None or _fits(kind.enc, value) else None)
    if all(v is None for v in values):
        return None
    return DataUnit(unit.pn, unit.fn, Curve(tag.start, tag.density, tuple(values)))
