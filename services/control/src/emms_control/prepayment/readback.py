"""Reading the remaining amount back from the device (terminal and meter mode), shown on the account.

A read is one ``DownlinkRequest`` per meter of a terminal- or meter-mode account (request id
``prepay-read:<account>:<meter>:<n>``): AFN0C F23 of the meter's group at the concentrator, or AFN10
forwarding of a CJ/T 188 8105 read to the meter — for a DL/T 645 cost-control meter three, one DI each:
remaining amount 00900200, overdraft amount 00900201 (stored as a negative remaining when above 0) and the
purchase count 03330201 (stored as the device count; counts only grow). The reads go out every
``readback_interval_s`` and on demand (``POST …/prepayment/read``). The consumer ``control-prepay-readback``
takes the FEP's ``DownlinkResult`` of such requests and stores what remains (yuan) and, for a meter, its
purchase count — only when newer than what is stored (results arrive in any order; a redelivered one
changes nothing).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import structlog

from emms_bus import BusProducer, Delivery
from emms_control.prepayment.units import METER_TYPE_188, PORT_188, PORT_645, PREAMBLE_645, forward_unit
from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, DownlinkResult, RequestOutcome
from emms_protocol import cjt188, dlt645
from emms_protocol.cjt188 import data_ids as ids188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.dlt645 import purchase as p645
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.afn10 import ForwardReply
from emms_protocol.gdw1376.json_view import units_from_view
from emms_protocol.gdw1376.purchase import PurchaseControl, RemainingAmount

log = structlog.get_logger("emms.control.prepayment")
PREFIX = "prepay-read:"
RESULTS_GROUP = "control-prepay-readback"
RESULTS_TOPIC = "emms.downlink.result.v1"
REQUESTED_BY = "control:prepayment"


async def targets(conn: Connection, account_id: str | None = None) -> list[asyncpg.Record]:
    """(account, meter, device) of every open terminal- / meter-mode account (or one account)."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.devices"):
        return []
    return await conn.fetch(
        f"SELECT s.account_id, s.mode, m.meter_id, d.terminal, d.pn, d.port, d.meter_address, d.utility"
        f" FROM {SCHEMA}.prepay_setting s JOIN {SCHEMA}.account a USING (account_id)"
        f" JOIN {SCHEMA}.account_meter m ON m.account_id = s.account_id AND m.active"
        f" JOIN {SCHEMA}.devices d ON d.meter_id = m.meter_id"
        " WHERE s.mode <> 'master' AND a.status = 'open' AND d.terminal IS NOT NULL"
        " AND ($1::text IS NULL OR s.account_id = $1) ORDER BY s.account_id, m.meter_id", account_id)


def _request(row: Any, afn: int, units: list[DataUnitRequest]) -> DownlinkRequest:
    request_id = f"{PREFIX}{row['account_id']}:{row['meter_id']}:{secrets.token_hex(4)}"
    return DownlinkRequest(request_id=request_id, terminal=row["terminal"], afn=afn, units=units,
                           requested_by=REQUESTED_BY, timeout_s=10.0, retries=1, priority=1)


def _forwarded(raw: bytes, port: int | None, default_port: int) -> list[DataUnitRequest]:
    unit = forward_unit(raw, port, default_port)
    return [DataUnitRequest(pn=unit["pn"], fn=unit["fn"], data=unit["data"])]


def requests_for(row: Any) -> list[DownlinkRequest]:
    """The reads of one meter of a terminal- / meter-mode account."""
    if row["mode"] == "terminal":
        return [_request(row, 0x0C, [DataUnitRequest(pn=[int(row["pn"])], fn=[23])])]
    if row["utility"] == "electricity":
        address = row["meter_address"]
        return [_request(row, 0x10, _forwarded(dlt645.read_request(address, di, preamble=PREAMBLE_645), row["port"],
                                               PORT_645))
                for di in (p645.REMAINING, p645.OVERDRAFT, p645.PURCHASE_COUNT)]
    raw = p188.read_purchase(METER_TYPE_188[row["utility"]], row["meter_address"])
    return [_request(row, 0x10, _forwarded(raw, row["port"], PORT_188))]


async def request_reads(pool: asyncpg.Pool, producer: BusProducer, account_id: str | None = None) -> int:
    async with pool.acquire() as conn:
        rows = await targets(conn, account_id)
    for row in rows:
        for request in requests_for(row):
            await producer.publish(request)
    return len(rows)


def _is_645(payload: bytes) -> bool:
    """A DL/T 645 frame (68 A0..A5 68 after any FE), not a CJ/T 188 one (68 T A0..A6 …)."""
    body = payload.lstrip(b"\xfe")
    return len(body) >= 12 and body[0] == 0x68 and body[7] == 0x68


def _from_645(payload: bytes) -> tuple[Decimal | None, int | None] | None:
    """(remaining yuan or None, purchase count or None) of a 645 cost-control read reply; None otherwise."""
    frame = dlt645.decode_frame(payload)
    body = frame.body
    if frame.error or not isinstance(body, dlt645.ReadReply) or not isinstance(body.value, int | float):
        return None
    if body.di == p645.REMAINING:
        return Decimal(str(body.value)), None
    if body.di == p645.OVERDRAFT:
        return (-Decimal(str(body.value)), None) if body.value > 0 else None
    if body.di == p645.PURCHASE_COUNT:
        return None, int(body.value)
    return None


def parse(result: DownlinkResult) -> tuple[Decimal | None, int | None] | None:
    """(remaining yuan or None, purchase count or None) of an answered read; None when it carries neither."""
    for view in result.frames:
        try:
            _, units, _ = units_from_view(view)
        except (ProtocolError, ValueError, TypeError):
            continue
        for unit in units:
            value = unit.value
            if isinstance(value, RemainingAmount) and value.remaining is not None:
                return Decimal(value.remaining) / 1000, None
            if isinstance(value, ForwardReply) and _is_645(value.payload):
                try:
                    found = _from_645(value.payload)
                except ProtocolError:
                    continue
                if found is not None:
                    return found
                continue
            if isinstance(value, ForwardReply) and value.payload:
                try:
                    frame = cjt188.decode_frame(value.payload)
                    if frame.di == ids188.PURCHASE and not frame.error:
                        held = p188.parse_state(frame.data[3:])
                        return Decimal(held.remaining_cents) / 100, held.number
                except ProtocolError:
                    continue
    return None


async def handle_results(pool: asyncpg.Pool, deliveries: Sequence[Delivery]) -> int:
    """Store the reads among ``deliveries`` (the latest per account wins); how many were stored."""
    stored = 0
    async with pool.acquire() as conn, conn.transaction():
        for delivery in deliveries:
            result = delivery.payload
            if not isinstance(result, DownlinkResult) or not result.request_id.startswith(PREFIX):
                continue
            if result.outcome is not RequestOutcome.ANSWERED:
                log.info("remaining amount not read", request_id=result.request_id, outcome=result.outcome.value,
                         detail=result.detail)
                continue
            found = parse(result)
            if found is None:
                continue
            account_id = result.request_id[len(PREFIX):].split(":", 1)[0]
            stored += await _save(conn, account_id, found[0], found[1], result.completed_at)
    return stored


async def _save(conn: Connection, account_id: str, remaining: Decimal | None, count: int | None, at: datetime
                ) -> int:
    if remaining is None:  # a 645 purchase count alone: counts only grow
        status = await conn.execute(
            f"UPDATE {SCHEMA}.prepay_setting SET device_count = greatest(coalesce(device_count, 0), $2)"
            " WHERE account_id = $1", account_id, count)
        return 1 if status.endswith(" 1") else 0
    status = await conn.execute(
        f"UPDATE {SCHEMA}.prepay_setting SET remaining = $2, device_count = coalesce($3, device_count),"
        " remaining_at = $4 WHERE account_id = $1 AND (remaining_at IS NULL OR remaining_at < $4)",
        account_id, remaining, count, at)
    return 1 if status.endswith(" 1") else 0


def purchase_count(expect: Mapping[str, Any], result: DownlinkResult) -> tuple[bool, str]:
    """The read-back check ``purchase_count`` (commands.checks): a purchase counts as verified only when the
    device reports it — the meter's purchase count (DL/T 645 03330201; CJ/T 188 8105, a number mod 100) or
    the terminal's bill number (1376.1 AFN0A F47) equals the purchase's. A meter that refused the recharge
    (a repeated or skipped count, a wrong customer) still reports the previous one: the device fails."""
    seen: int | None = None
    for view in result.frames:
        try:
            _, units, _ = units_from_view(view)
        except (ProtocolError, ValueError, TypeError):
            continue
        seen = next((u.value.bill_number for u in units if isinstance(u.value, PurchaseControl)), seen)
    if seen is None:
        found = parse(result)
        seen = found[1] if found is not None else None
    if seen is None:
        return False, "no purchase count"
    modulo = expect.get("modulo")
    wanted = int(expect["value"])
    return (seen % int(modulo) if modulo else seen) == wanted, f"purchase count {seen}"
