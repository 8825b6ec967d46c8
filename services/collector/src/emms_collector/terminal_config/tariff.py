"""The tariff in force of a terminal (R-4.2.2 / R-4.5.3.1): AFN0A F21 (rate number of each half hour, M) and F22
(rates, 厘 per kWh), read at the terminal's first login and on request, and shown to people as periods.

F21 and F22 are managed parameters like any other (``values.SETTABLE``): a push sets them (AFN04), reads them
back and compares; the periodic read-back finds drift. What was read is kept as the ``terminal_param`` rows of
fn 21 and 22; ``tariff_read`` says whether the login read was done. A rate number is 0-based on the wire
(0 = 费率 1); everything shown here is 1-based.

Each time a read of F21 or F22 is stored (this module's reads, a push's read-back, the drift check), the tariff
as held then is published on ``emms.terminal.tariff.v1`` (:meth:`TariffReads.publish`; analytics splits usage by
it). The message follows the commit; a publish that fails makes the tariff due to be read again (and so
published again), so every stored tariff reaches the bus at least once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from emms_collector.repository import tariff as sql
from emms_collector.repository import terminal_config as params_sql
from emms_collector.terminal_config import values
from emms_collector.terminal_config.pushes import TerminalConfig
from emms_messages.terminal import TerminalTariff

log = structlog.get_logger("emms.collector.tariff")
FNS = sql.FNS
SLOT_MINUTES = 30


class NeverRead(LookupError):
    """The terminal's F21 / F22 were never read back (the reason, for people)."""


def periods(slots: Sequence[int]) -> list[dict[str, Any]]:
    """Half-hour rate numbers (0-based) → runs of equal rate: ``[{"from": "00:00", "to": "07:00", "rate": 4}, …]``."""
    out: list[dict[str, Any]] = []
    for i, number in enumerate(slots):
        if out and out[-1]["rate"] == number + 1:
            out[-1]["to"] = _clock(i + 1)
        else:
            out.append({"from": _clock(i), "to": _clock(i + 1), "rate": number + 1})
    return out


def _clock(slot: int) -> str:
    minutes = slot * SLOT_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _price(rates: Sequence[int | None], rate: int) -> dict[str, Any]:
    li = rates[rate - 1] if rate <= len(rates) else None
    return {"li_per_kwh": li, "yuan_per_kwh": None if li is None else round(li / 1000, 3)}


def view(terminal: str, held: Mapping[int, Mapping[str, Any]], tried: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tariff in force as people read it; :class:`NeverRead` when F21 or F22 was never read back."""
    f21, f22 = (held.get(fn, {}).get("reported") for fn in FNS)
    if not isinstance(f21, dict) or not isinstance(f22, dict):
        missing = " and ".join(f"F{fn}" for fn, v in zip(FNS, (f21, f22), strict=True) if not isinstance(v, dict))
        if tried is None:
            why = "no read was asked yet (it is read at the terminal's first login, or on request)"
        elif tried["state"] in ("due", "reading"):
            why = "a read is under way"
        else:
            why = f"the last read ({_iso(tried['tried_at'])}) got no {missing}: {tried['detail'] or 'no detail'}"
        raise NeverRead(f"the tariff of terminal {terminal} was never read ({missing} missing): {why}")
    slots, count, rates = list(f21["slots"]), int(f21["rate_count"]), list(f22["rates"])
    read = [held[fn]["reported_at"] for fn in FNS]
    return {
        "terminal": terminal,
        "rate_count": count,
        "periods": [{**p, **_price(rates, p["rate"])} for p in periods(slots)],
        "rates": [{"rate": i + 1, **_price(rates, i + 1), "used": (i in slots)} for i in range(max(count, len(rates)))],
        "slots": slots,
        "read_at": _iso(min(read)),
        "periods_read_at": _iso(read[0]),
        "rates_read_at": _iso(read[1]),
        "state": {f"F{fn}": held[fn]["state"] for fn in FNS},
    }


def message(terminal: str, held: Mapping[int, Mapping[str, Any]]) -> TerminalTariff | None:
    """The tariff as held, for the bus (None while F21 was never read; ``rates`` None while F22 was not)."""
    f21, f22 = (held.get(fn, {}).get("reported") for fn in FNS)
    if not isinstance(f21, dict):
        return None
    periods_at = held[21]["reported_at"]
    rates_at = held[22]["reported_at"] if isinstance(f22, dict) else None
    return TerminalTariff(terminal=terminal, slots=list(f21["slots"]), rate_count=int(f21["rate_count"]),
                          rates=list(f22["rates"]) if isinstance(f22, dict) else None,
                          periods_read_at=periods_at, rates_read_at=rates_at,
                          read_at=max(periods_at, rates_at) if rates_at is not None else periods_at)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


class TariffReads:
    """Reads F21 and F22 of terminals: due ones (first login) in the terminal-config worker, one on request."""

    def __init__(self, config: TerminalConfig) -> None:
        self.config = config

    async def read_due(self) -> int:
        async with self.config.pool.acquire() as conn:
            due = await sql.claim_due(conn, 200)
        await asyncio.gather(*(self.read(t) for t in due))
        return len(due)

    async def read(self, terminal: str) -> dict[str, Any]:
        """AFN0A F21 + F22 of one terminal, stored (compared with a desired value, drift alarmed as for any
        parameter); ``outcome`` is the FEP's (answered, timeout, offline …)."""
        reported, result = await self.config.read(terminal, FNS)
        got = reported or {}
        ok = all(fn in got for fn in FNS)
        detail = "" if ok else (f"{result.outcome.value}: {result.detail}".strip(": ") if reported is None
                                else "answered without " + " and ".join(f"F{fn}" for fn in FNS if fn not in got))
        alarms = []
        async with self.config.pool.acquire() as conn, conn.transaction():
            desired = await params_sql.desired_of(conn, terminal)
            for fn in FNS:
                if fn in got:
                    want = desired.get(fn)
                    state = await params_sql.note_reported(conn, terminal, fn, got[fn],
                                                           None if want is None else values.same(fn, want, got[fn]))
                    if state == "drift_new":
                        alarms.append((fn, want, got[fn]))
            await sql.note_tried(conn, terminal, ok, detail)
        for fn, want, value in alarms:
            await self.config.alarm(terminal, fn, want, value, "read-back differs from the master's value")
        if any(fn in got for fn in FNS):
            await self.publish(terminal)
        return {"terminal": terminal, "outcome": result.outcome.value, "ok": ok, "detail": detail}

    async def publish(self, terminal: str) -> TerminalTariff | None:
        """Publish the terminal's tariff as now held (after F21 or F22 was stored). A failed publish makes the
        tariff due again: the next read stores and publishes it (at least once; the consumer keeps the newest)."""
        async with self.config.pool.acquire() as conn:
            tariff = message(terminal, await sql.held(conn, terminal))
        if tariff is None:
            return None
        try:
            await self.config.producer.publish(tariff)
        except Exception as exc:  # the broker: read it again later rather than lose the message
            log.warning("tariff not published; read again", terminal=terminal, error=str(exc))
            async with self.config.pool.acquire() as conn:
                await sql.mark_due(conn, terminal)
            self.config.poke()
            return None
        return tariff
