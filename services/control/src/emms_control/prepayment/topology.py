"""What the devices behind an account can do, from the topology control keeps from master data
(``control.devices``, filled by the command path from ``emms.masterdata.change.v1``).

* master mode: any device with a relay or a valve;
* terminal mode: 1376.1 purchase control counts a total-add group's electricity at the concentrator:
  electricity accounts whose every meter sits at a measurement point of a concentrator;
* meter mode: a prepaid CJ/T 188 water / gas / heat meter, or a DL/T 645-2007 cost-control electricity
  meter, reached through its concentrator (AFN10 forwarding). The 645 recharge is sent in its plaintext
  form, MACs zero-filled: a real meter needs the ESAM to fill them (docs/control.md). A DL/T 645-1997
  meter has no cost-control data items (no recharge, no remaining amount): refused with that reason. A
  cost-control meter trips itself when what remains reaches minus its overdraft limit: the trip threshold
  is at or below zero (−overdraft limit) and the alarm threshold at or above zero (its alarm amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import asyncpg

from emms_control.prepayment.rules import Mode
from emms_control.schema import SCHEMA
from emms_db.connection import Connection

COST_CONTROL_PROTOCOLS = {"water": ("cjt188-2004",), "gas": ("cjt188-2004",), "heat": ("cjt188-2004",),
                          "electricity": ("dlt645-2007",)}
"""Meter mode here: prepaid CJ/T 188 meters and DL/T 645-2007 cost-control meters (plaintext recharge)."""
NO_COST_CONTROL = {"dlt645-1997": ("DL/T 645-1997 defines no cost-control data items (no recharge 070102FF, no"
                                   " remaining amount 00900200): use master or terminal mode")}


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
    if mode == Mode.TERMINAL and utility != "electricity":
        return (f"terminal mode counts electricity (1376.1 purchase control of a total-add group); a {utility}"
                " account runs in master or meter mode")
    for meter_id in meter_ids:
        device = found.get(meter_id)
        if device is None or not device["terminal"] or device["pn"] is None:
            return f"{mode.value} mode: meter {meter_id} is at no measurement point of a concentrator in the topology"
        if mode == Mode.METER and device["protocol"] in NO_COST_CONTROL:
            return f"meter mode: meter {meter_id} speaks {device['protocol']}; {NO_COST_CONTROL[device['protocol']]}"
        if mode == Mode.METER and device["protocol"] not in COST_CONTROL_PROTOCOLS.get(utility, ()):
            return (f"meter mode: meter {meter_id} speaks {device['protocol'] or 'an unknown protocol'}, not a"
                    f" cost-control protocol for {utility} ({', '.join(COST_CONTROL_PROTOCOLS.get(utility, ()))})")
    return None


def levels_refusal(mode: Mode, utility: str, alarm: Decimal, trip: Decimal) -> str | None:
    """Why a cost-control electricity meter cannot hold these thresholds, or None."""
    if mode != Mode.METER or utility != "electricity":
        return None
    if trip > 0:
        return (f"meter mode for electricity: the trip threshold {trip} must be at or below 0 — a cost-control meter"
                " trips itself when what remains reaches minus its overdraft limit (04001003)")
    if alarm < 0:
        return f"meter mode for electricity: the alarm threshold {alarm} must be at or above 0 (alarm amount 04001001)"
    return None
