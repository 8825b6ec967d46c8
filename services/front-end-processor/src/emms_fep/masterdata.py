"""The owners of terminals, kept from master-data changes: what the FEP's company / region scope needs (R-4.6.2).

The archive publishes ``MasterDataChange`` on ``emms.masterdata.change.v1`` after every committed
change. The FEP keeps (tables of migration ``0005_scope.sql``):

* ``terminal`` → its session key (``AAAA-TTTTT``, from the archive's address), company and region;
* ``meter_installation`` (keyed by metering point; the archive's installation view: terminal,
  customer, the customer's company and region) → the point read through that terminal, so a
  terminal whose record has no region (or no record yet) gets its owners from its meters;
* ``metering_point`` → a point moved to another terminal (or off every terminal);
* ``customer`` → the company and region of that customer's points;
* ``region`` → its parent (a token's region covers every region below it);
* ``terminal_password`` → the terminal's own PW, sealed (:mod:`emms_fep.passwords`, migration 0006).

Every replica's consumer is in one group (the tables are the fleet's); each batch is applied in
one transaction with the inbox rows of its messages, so a redelivered change does nothing, and
every write sets values (never adds), so applying a change twice is the same as once. A removed
terminal or installation keeps its owners: the terminal's history (traffic, sessions) stays with
the company it served.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from emms_bus import Delivery, PermanentHandlerError
from emms_db.connection import Connection
from emms_db.inbox import claim, purge
from emms_fep import passwords
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.address import Address
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.fep.masterdata")
MASTERDATA_TOPIC = "emms.masterdata.change.v1"
CONSUMER = "masterdata"
_KEY = re.compile(r"^[0-9A-Fa-f]{4}-\d{1,5}$")
_VENDOR_HEX = re.compile(r"^[0-9A-Fa-f]{8}$")


def terminal_key(address: Any) -> str | None:
    """The FEP's session key of an archive terminal address: ``"3701-00012"`` as it is (normalised), or
    the 8-hex-digit vendor form ``"3701000C"`` (A1 then A2 in hex); None for any other form."""
    if not isinstance(address, str):
        return None
    text = address.strip()
    try:
        if _KEY.match(text):
            return Address.parse(text).key
        if _VENDOR_HEX.match(text):
            return Address(int(text[:4], 16), int(text[4:], 16)).key
    except ProtocolError:
        return None
    return None


def _text(data: Mapping[str, Any], *names: str) -> str | None:
    value = next((data[n] for n in names if data.get(n) not in (None, "")), None)
    return None if value is None else str(value)


def _carries(data: Mapping[str, Any], *names: str) -> bool:
    return any(n in data for n in names)


@dataclass(frozen=True, slots=True)
class TerminalChange:
    terminal_id: str
    terminal: str | None
    company_id: str | None
    region_id: str | None
    has_address: bool
    has_company: bool
    has_region: bool
    """What the change carries: a partial update leaves the rest as it was."""


def terminal_change(change: MasterDataChange) -> TerminalChange:
    data = change.data
    address = data.get("address")
    return TerminalChange(change.entity_id, terminal_key(address), _text(data, "company_id", "company"),
                          _text(data, "region_id", "region"), "address" in data,
                          _carries(data, "company_id", "company"), _carries(data, "region_id", "region"))


@dataclass(frozen=True, slots=True)
class PointChange:
    """A metering point read through a terminal (``terminal_id`` None: through none)."""

    point_id: str
    terminal_id: str | None
    terminal: str | None
    customer_id: str | None
    company_id: str | None
    region_id: str | None


def installation_change(change: MasterDataChange) -> PointChange | None:
    """The point of a ``meter_installation`` (keyed by metering point); None for a removal (the point stays
    where it is: removing its meter does not move it)."""
    if change.kind is ChangeKind.REMOVED:
        return None
    data = change.data
    return PointChange(_text(data, "metering_point_id") or change.entity_id, _text(data, "terminal_id"),
                       terminal_key(data.get("terminal_address")), _text(data, "customer_id"),
                       _text(data, "company_id"), _text(data, "region_id"))


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer_id: str
    company_id: str | None
    region_id: str | None


@dataclass(frozen=True, slots=True)
class RegionChange:
    region_id: str
    parent_id: str | None
    has_parent: bool


async def apply_terminal(conn: Connection, schema: str, c: TerminalChange) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.terminals (terminal_id, terminal, company_id, region_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (terminal_id) DO UPDATE SET"
        " terminal = CASE WHEN $5 THEN EXCLUDED.terminal ELSE terminals.terminal END,"
        " company_id = CASE WHEN $6 THEN EXCLUDED.company_id ELSE terminals.company_id END,"
        " region_id = CASE WHEN $7 THEN EXCLUDED.region_id ELSE terminals.region_id END, updated_at = now()",
        c.terminal_id, c.terminal, c.company_id, c.region_id, c.has_address, c.has_company, c.has_region)


async def apply_point(conn: Connection, schema: str, p: PointChange) -> None:
    if p.terminal_id is None:
        await conn.execute(f"DELETE FROM {schema}.terminal_points WHERE metering_point_id = $1", p.point_id)
        return
    await conn.execute(
        f"INSERT INTO {schema}.terminal_points (metering_point_id, terminal_id, terminal, customer_id, company_id,"
        " region_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (metering_point_id) DO UPDATE SET"
        " terminal_id = EXCLUDED.terminal_id, terminal = EXCLUDED.terminal,"
        " customer_id = COALESCE(EXCLUDED.customer_id, terminal_points.customer_id),"
        " company_id = COALESCE(EXCLUDED.company_id, terminal_points.company_id),"
        " region_id = COALESCE(EXCLUDED.region_id, terminal_points.region_id), updated_at = now()",
        p.point_id, p.terminal_id, p.terminal, p.customer_id, p.company_id, p.region_id)


async def apply_point_move(conn: Connection, schema: str, change: MasterDataChange) -> None:
    """A ``metering_point`` change: the terminal it is read through and its customer. Only points the FEP
    already knows from an installation are followed (a point without a meter is read by no one)."""
    data = change.data
    if not _carries(data, "terminal_id"):
        return
    terminal_id = _text(data, "terminal_id")
    if terminal_id is None or change.kind is ChangeKind.REMOVED:
        await conn.execute(f"DELETE FROM {schema}.terminal_points WHERE metering_point_id = $1", change.entity_id)
        return
    await conn.execute(
        f"UPDATE {schema}.terminal_points SET terminal = CASE WHEN terminal_id = $2 THEN terminal END,"
        " terminal_id = $2, customer_id = COALESCE($3, customer_id), updated_at = now()"
        " WHERE metering_point_id = $1", change.entity_id, terminal_id, _text(data, "customer_id"))


async def apply_customer(conn: Connection, schema: str, c: CustomerChange) -> None:
    await conn.execute(
        f"UPDATE {schema}.terminal_points SET company_id = COALESCE($2, company_id),"
        " region_id = COALESCE($3, region_id), updated_at = now() WHERE customer_id = $1",
        c.customer_id, c.company_id, c.region_id)


async def apply_region(conn: Connection, schema: str, c: RegionChange) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.regions (region_id, parent_id) VALUES ($1, $2) ON CONFLICT (region_id) DO UPDATE"
        " SET parent_id = CASE WHEN $3 THEN EXCLUDED.parent_id ELSE regions.parent_id END, updated_at = now()",
        c.region_id, c.parent_id, c.has_parent)


async def apply_change(conn: Connection, schema: str, change: MasterDataChange) -> None:
    """One change; entities the FEP does not follow are ignored."""
    entity = change.entity.lower()
    data = change.data
    if entity == "terminal":
        terminal = terminal_change(change)
        if terminal.has_address and terminal.terminal is None:
            log.warning("terminal address in no form the FEP keys sessions by; owners come from its points only",
                        terminal_id=terminal.terminal_id, address=str(data.get("address"))[:40])
        await apply_terminal(conn, schema, terminal)
    elif entity == "meter_installation":
        point = installation_change(change)
        if point is not None:
            await apply_point(conn, schema, point)
    elif entity == "metering_point":
        await apply_point_move(conn, schema, change)
    elif entity == "customer":
        await apply_customer(conn, schema, CustomerChange(change.entity_id, _text(data, "company_id", "company"),
                                                          _text(data, "region_id", "region")))
    elif entity == "region":
        await apply_region(conn, schema, RegionChange(change.entity_id, _text(data, "parent_id", "parent"),
                                                      _carries(data, "parent_id", "parent")))
    elif entity == passwords.ENTITY:
        await passwords.apply_change(conn, schema, change, terminal_key(data.get("address")))


class MasterDataSync:
    """The bus handler of the master-data topic, and the purge of its inbox."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema
        self.applied = 0
        self.on_committed: Callable[[], None] = lambda: None
        """Called after a batch is committed (the password book reads what changed)."""

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries}
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, self._schema, CONSUMER, list(unique))
            for mid, change in unique.items():
                if mid not in fresh or not isinstance(change, MasterDataChange):
                    continue
                try:
                    await apply_change(conn, self._schema, change)
                except (ValueError, TypeError) as exc:
                    raise PermanentHandlerError(f"master data change {change.change_id}: {exc}") from exc
                self.applied += 1
        self.on_committed()

    async def purge(self, older_than_days: int = 8) -> int:
        """Inbox rows older than the topic's retention (nothing can redeliver them)."""
        async with self._pool.acquire() as conn:
            return await purge(conn, self._schema, older_than_days)

    async def run_purge(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("fep-masterdata-inbox", self.purge, 3600.0).run(stop)
