"""The fleet manifest: one JSON file listing every concentrator and the meters behind it.

Tests, benchmarks and ``make up`` read it to know what to expect: terminal
addresses (A1/A2), measurement points, meter ids, utilities, protocols, ports,
local communication schemes and addresses, and the scheduled meter changes.
Written streaming, so a fleet of a million meters never sits in memory as one
document.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from emms_sim.fleet import Fleet, MeterSpec

PORT_OF_PROTOCOL = {"dlt645-2007": 31, "cjt188-2004": 2}  # carrier / PLC port, RS-485 II (M-Bus converter)
CARRIER_MODULES = ("plc", "hplc", "rf")
"""The local module of concentrator ``i`` (port 31) is ``CARRIER_MODULES[i % 3]``: narrowband carrier, broadband
carrier, micro-power wireless — a fleet of three or more terminals has every one."""


def local_scheme(meter: MeterSpec) -> str:
    """How the concentrator reaches the meter (the metering point's ``local_scheme`` in master data): 645 meters
    through the terminal's carrier / wireless module, 188 meters over the M-Bus converter on RS-485 II."""
    if PORT_OF_PROTOCOL[meter.protocol] == 31:
        return CARRIER_MODULES[meter.terminal_index % len(CARRIER_MODULES)]
    return "mbus"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat()


def meter_entry(meter: MeterSpec, meters_per: int, added: int = 1) -> dict[str, object]:
    replacements = []
    if meter.replaced_at is not None:
        replacements.append({"at": _iso(meter.replaced_at), "old_address": meter.address(0),
                             "new_address": meter.address(1)})
    return {
        "pn": meter.pn, "meter_id": meter.meter_id, "utility": meter.utility, "kind": meter.kind,
        "protocol": meter.protocol, "port": PORT_OF_PROTOCOL[meter.protocol], "local_scheme": local_scheme(meter),
        "address": meter.address(0),
        "installed_at": _iso(meter.installed_at), "removed_at": _iso(meter.removed_at),
        "added_later": meters_per < meter.pn <= meters_per + added, "replacements": replacements,
        "has_pv": meter.has_pv,
        "phases": meter.phases if meter.utility == "electricity" else None,
    }


def terminal_entry(fleet: Fleet, index: int) -> dict[str, object]:
    term = fleet.terminal(index)
    entry: dict[str, object] = {"index": index, "key": term.key, "a1": f"{term.area:04X}", "a2": term.terminal,
                                "tz_offset_minutes": fleet.config.tz_offset_minutes}
    if fleet.config.own_passwords:  # the PW the terminal expects at start, for loading into master data
        entry["password_hex"] = fleet.password(index).hex()
    entry["meters"] = [meter_entry(m, fleet.config.meters_per, fleet.config.rates.added_per_terminal)
                       for m in fleet.meters_of(index)]
    return entry


def write_manifest(fleet: Fleet, path: Path, extra: dict[str, object] | None = None) -> None:
    """Write the manifest atomically (temp file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        _write(fleet, out, extra or {})
    tmp.replace(path)


def _write(fleet: Fleet, out: IO[str], extra: dict[str, object]) -> None:
    cfg = fleet.config
    head = {
        "seed": cfg.seed, "concentrators": cfg.concentrators, "meters_per": cfg.meters_per,
        "mix": dict(cfg.mix), "tz_offset_minutes": cfg.tz_offset_minutes, "own_passwords": cfg.own_passwords,
        "daily_freeze": "register at local 00:00 of the day after the frozen date",
        "monthly_freeze": "register at local 00:00 on the 1st of the next month", **extra,
    }
    if cfg.network is not None:  # the topology master data is seeded from (with the wrong assignments)
        from emms_sim.network_truth import topology
        from emms_sim.truth import GroundTruth

        head["network"] = topology(GroundTruth(cfg).model)
    out.write(json.dumps(head)[:-1] + ', "terminals": [\n')
    for i in fleet.terminals():
        out.write(("," if i else "") + json.dumps(terminal_entry(fleet, i)) + "\n")
    out.write("]}\n")
