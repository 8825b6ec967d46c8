"""What the devices behind an account can do, from the topology control keeps from master data
(``control.devices``, filled by the command path from ``emms.masterdata.change.v1``).

* master mode: any device with a relay or a valve;
* terminal mode: 1376.1 purchase control counts a total-add group's electricity at the concentrator:
  electricity accounts whose every meter sits at a measurement point of a concentrator;
* meter mode: a prepaid CJ/T 188 water / gas / heat meter reached through its concentrator (electricity
  meter mode would need DL/T 645's ESAM-secured recharge: refused with that reason).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from emms_control.prepayment.rules import Mode
from emms_control.schema import SCHEMA
from emms_db.connection import Connection

COST_CONTROL_PROTOCOLS = {"water": ("cjt188-2004",), "gas": ("cjt188-2004",), "heat": ("cjt188-2004",)}
"""Meter mode here: prepaid CJ/T 188 meters. A DL/T 645 cost-control meter takes its purchase through the
ESAM-secured recharge command (control code 03H with ciphertext and MAC), which cannot be had here."""


async def devices(conn: Connection, meter_ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    known = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.devices")
    if not known:
        return {}
    rows = await conn.fetch(f"SELECT meter_id, terminal, pn, protocol, meter_address, utility FROM {SCHEMA}.devices"
                            " WHERE meter_id = ANY($1::text[]) AND active", list(meter_ids))
    return {r["meter_id"]: r for r in rows}


def refusal(mode: Mode, utility: str, meter_ids: Sequence[str], found: dict[str, asyncpg.Record]) -> str | None:
    """Why ``mode`` cannot run on these meters, or None when it can."""
    if mode == Mode.MASTER:
        return None
    if not meter_ids:
        return f"{mode.value} mode needs a meter on the account"
    if mode == Mode.METER and utility == "electricity":
        return ("meter mode for electricity needs the DL/T 645 cost-control meter's recharge (control code 03H),"
                " which is ESAM-secured (ciphertext and MAC) and not available here; use master or terminal mode")
    if mode == Mode.TERMINAL and utility != "electricity":
        return (f"terminal mode counts electricity (1376.1 purchase control of a total-add group); a {utility}"
                " account runs in master or meter mode")
    for meter_id in meter_ids:
        device = found.get(meter_id)
        if device is None or not device["terminal"] or device["pn"] is None:
            return f"{mode.value} mode: meter {meter_id} is at no measurement point of a concentrator in the topology"
        if mode == Mode.METER and device["protocol"] not in COST_CONTROL_PROTOCOLS.get(utility, ()):
            return (f"meter mode: meter {meter_id} speaks {device['protocol'] or 'an unknown protocol'}, not a"
                    f" cost-control protocol for {utility} ({', '.join(COST_CONTROL_PROTOCOLS.get(utility, ()))})")
    return None
