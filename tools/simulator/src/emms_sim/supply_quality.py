"""Supply-quality truth: which meters see voltage violations, harmonic distortion or abnormal pressure, and the
values they see — deterministic per meter and local time of day, so an analysis can be checked against it.

* **Voltage**: about 8 % of electricity meters (:func:`voltage_fault`) see a sag of 32 – 42 V in the evening
  peak (local 18:00 – 22:00: below 198 V, the 220 V level's −10 %) or a swell of 22 – 27 V at night (local
  01:00 – 05:00: above 235.4 V, +7 %); the offset is added to the meter's phase voltages
  (:func:`voltage_offset`, wired into ``meters.Truth._electricity_instant``).
* **Harmonics**: three-phase meters deliver harmonic content (1376.1 AFN0C F58 items ``thd.*`` and
  ``harmonic.*``, % of the fundamental, 0.1 % resolution) — :func:`harmonic_content`. A clean meter's
  voltage content of order h is 0.6 / h % (odd) or 0.2 / h % (even); a distorted one (about 30 % of them,
  :func:`distorted`) has the 3rd, 5th, 7th and 11th at 3.0 / 4.6 / 3.6 / 2.2 % times a daily shape peaking
  in the evening (THD over 5 % then). Current content is three times the voltage content.
* **Pressure**: about 10 % of water / gas meters (:func:`pressure_fault`): water loses 0.25 MPa in the
  morning peak (local 07:00 – 09:00: below 0.14 MPa), gas gains 1.5 kPa over lunch (local 12:00 – 13:00:
  above 3 kPa) — :func:`pressure_offset`, wired into ``meters.Truth._flow_meter``. Heat meters report a line
  pressure (:func:`heat_pressure`, MPa) that drops 0.1 MPa at night (02:00 – 04:00) for the same share.
"""

from __future__ import annotations

import math

from emms_sim.fleet import MeterSpec
from emms_sim.hashing import TAG_METER, unit

HOUR = 3600.0
PHASES = ("a", "b", "c")
ORDERS = range(2, 20)
_DISTORTED_ORDERS = {3: 3.0, 5: 4.6, 7: 3.6, 11: 2.2}


def voltage_fault(meter: MeterSpec) -> str | None:
    """``sag`` (evening under-voltage), ``swell`` (night over-voltage) or None."""
    if meter.utility != "electricity" or unit(meter.key, TAG_METER, 201) >= 0.08:
        return None
    return "sag" if unit(meter.key, TAG_METER, 202) < 0.5 else "swell"


def voltage_offset(meter: MeterSpec, local_second: float) -> float:
    """Volts added to every phase at ``local_second`` of the local day."""
    fault = voltage_fault(meter)
    if fault == "sag" and 18 * HOUR <= local_second < 22 * HOUR:
        return -(32.0 + 10.0 * unit(meter.key, TAG_METER, 203))
    if fault == "swell" and 1 * HOUR <= local_second < 5 * HOUR:
        return 22.0 + 5.0 * unit(meter.key, TAG_METER, 203)
    return 0.0


def delivers_harmonics(meter: MeterSpec) -> bool:
    return meter.utility == "electricity" and meter.phases == 3


def distorted(meter: MeterSpec) -> bool:
    return delivers_harmonics(meter) and unit(meter.key, TAG_METER, 204) < 0.3


def _shape(local_second: float) -> float:
    """0.4 at 07:00 … 1.0 at 19:00: distortion follows the evening load."""
    return 0.7 - 0.3 * math.cos(2 * math.pi * (local_second - 7 * HOUR) / (24 * HOUR))


def _content(meter: MeterSpec, phase: int, order: int, local_second: float) -> float:
    wobble = 1.0 + 0.1 * (unit(meter.key, TAG_METER, 210 + phase) - 0.5)
    if distorted(meter) and order in _DISTORTED_ORDERS:
        return _DISTORTED_ORDERS[order] * _shape(local_second) * wobble
    return (0.6 if order % 2 else 0.2) / order * wobble


def harmonic_content(meter: MeterSpec, local_second: float) -> dict[str, float] | None:
    """Items ``thd.voltage|current.<p>`` and ``harmonic.voltage|current.<p>.h<k>`` in % (0.1 % resolution, as
    A.5 carries them; the THD is computed from the unrounded contents), or None for a meter without them."""
    if not delivers_harmonics(meter):
        return None
    out: dict[str, float] = {}
    for i, p in enumerate(PHASES):
        for quantity, factor in (("voltage", 1.0), ("current", 3.0)):
            contents = {h: _content(meter, i, h, local_second) * factor for h in ORDERS}
            out[f"thd.{quantity}.{p}"] = round(math.sqrt(sum(c * c for c in contents.values())), 1)
            for h, c in contents.items():
                out[f"harmonic.{quantity}.{p}.h{h}"] = round(c, 1)
    return out


def pressure_fault(meter: MeterSpec) -> bool:
    return meter.utility in ("water", "gas", "heat") and unit(meter.key, TAG_METER, 205) < 0.1


def pressure_offset(meter: MeterSpec, local_second: float) -> float:
    """MPa added to a water / gas meter's pressure at ``local_second`` of the local day."""
    if not pressure_fault(meter):
        return 0.0
    if meter.utility == "water" and 7 * HOUR <= local_second < 9 * HOUR:
        return -0.25
    if meter.utility == "gas" and 12 * HOUR <= local_second < 13 * HOUR:
        return 0.0015
    return 0.0


def heat_pressure(meter: MeterSpec, local_second: float, noise: float) -> float:
    """A heat meter's line pressure in MPa (``noise`` in [−0.5, 0.5))."""
    base = 0.35 + (unit(meter.key, TAG_METER, 206) - 0.5) * 0.05 + noise * 0.004
    if pressure_fault(meter) and 2 * HOUR <= local_second < 4 * HOUR:
        base -= 0.1
    return base
