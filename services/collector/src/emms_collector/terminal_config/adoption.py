"""An operator's acceptance of what the field reported: a new terminal, a meter master data lacks.

Both write to the archive's master data first when the operator names where the thing belongs (company,
region, customer — the archive's rules apply and its refusals are the operator's answer), then record the
acceptance here (:mod:`emms_collector.terminal_config.archive_client`). Without those names the acceptance is
the collector's alone: the terminal is marked accepted, the meter becomes a point of the collector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emms_collector.repository import terminal_config as sql
from emms_collector.terminal_config.setup import TerminalManagement
from emms_collector.terminal_config.values import PROTOCOL_OF_CODE
from emms_runtime import Conflict, NotFound


@dataclass(frozen=True, slots=True)
class ArchiveTerminal:
    terminal_id: str
    company_id: str
    region_id: str | None = None


@dataclass(frozen=True, slots=True)
class ArchiveCustomer:
    customer_id: str
    customer_name: str
    category: str
    company_id: str
    region_id: str
    metering_point_id: str


def _version_fields(version: Any) -> dict[str, Any]:
    if not isinstance(version, dict):
        return {}
    fields = {"vendor": version.get("vendor"), "firmware": version.get("software_version"),
              "hardware_version": version.get("hardware_version"), "serial_number": version.get("device_number")}
    return {k: str(v).strip() for k, v in fields.items() if v is not None and str(v).strip()}


async def accept_terminal(tm: TerminalManagement, terminal: str, actor: str, authorization: str,
                          archive: ArchiveTerminal | None) -> dict[str, Any]:
    """404: never seen; 409: not new. With ``archive``: created in the archive first (its answer stands)."""
    pool = tm.config.pool
    async with pool.acquire() as conn:
        row = await sql.registry_row(conn, terminal)
    if row is None:
        raise NotFound(f"terminal {terminal} was never seen logging in")
    if row["status"] != "new":
        raise Conflict(f"terminal {terminal} is {row['status']}, not new")
    written = None
    if archive is not None:
        record = {"id": archive.terminal_id, "kind": "concentrator", "address": terminal,
                  "company_id": archive.company_id, "region_id": archive.region_id, **_version_fields(row["version"])}
        written = await tm.archive.post("/api/v1/terminals", {k: v for k, v in record.items() if v is not None},
                                        authorization)
    async with pool.acquire() as conn, conn.transaction():
        accepted = await sql.accept(conn, terminal, actor)
        if accepted is None:
            raise Conflict(f"terminal {terminal} was accepted meanwhile")
        await sql.add_action(conn, actor, terminal, "accept_terminal",
                             {"version": row["version"], "archive_id": archive.terminal_id if archive else None},
                             "accepted, created in the archive" if written is not None else "accepted")
    accepted["archive"] = written.get("record") if written else None
    return accepted


async def adopt_meter(tm: TerminalManagement, terminal: str, pn: int, meter_id: str, utility: str | None,
                      actor: str, authorization: str, customer: ArchiveCustomer | None) -> dict[str, Any] | None:
    """None when no meter is listed at (terminal, pn). With ``customer``: the customer, metering point, meter
    and installation are imported into the archive first (the concentrator's serial, port, protocol and
    address), then the meter is a point of the collector either way."""
    if customer is not None:
        async with tm.config.pool.acquire() as conn:
            listed = [u for u in await sql.unknown_meters(conn, terminal, "listed", 10_000) if u["pn"] == pn]
            archive_terminal = await sql.archive_terminal_id(conn, terminal)
        if not listed:
            return None
        if archive_terminal is None:
            raise Conflict(f"terminal {terminal} is not in the archive's master data: enter (or accept) it first")
        found = listed[0]
        protocol = PROTOCOL_OF_CODE.get(found["protocol_code"], "dlt645-2007")
        row = {"customer_id": customer.customer_id, "customer_name": customer.customer_name,
               "utility": utility or ("electricity" if protocol.startswith("dlt645") else "water"),
               "category": customer.category, "company_id": customer.company_id, "region_id": customer.region_id,
               "metering_point_id": customer.metering_point_id, "terminal_id": archive_terminal, "pn": pn,
               "port": found["port"], "meter_id": meter_id, "protocol": protocol,
               "meter_address": found["meter_address"], "installed_at": datetime.now(UTC).isoformat()}
        await tm.archive.post("/api/v1/import/customer-meters", [row], authorization)
    adopted = await tm.meter_table.adopt(terminal, pn, meter_id, utility, actor)
    if adopted is not None:
        adopted["archive"] = customer is not None
    return adopted
