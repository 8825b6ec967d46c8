"""Pricing one usage by a tariff: lines per version, season, period and tier block.

Total register: the increment is spread over ``[start, end)`` in proportion to time and priced
by the period of each stretch of the day table. Tariff registers: each register's increment is
its period's, spread over the stretches of versions and tier periods in proportion to time (a
register whose period has no price in a version falls back to the total spread, flagged
``tou_fallback``). Tier blocks continue from the account's usage of the tier period so far.
Quantities are kept to 6 decimals (split so that they add up exactly); a charge's amount is the
exact sum of its lines rounded half-up to the cent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from emms_control.charges.usage import QUANTUM, Usage
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.model import Segment, Tariff
from emms_control.tariffs.periods import Period

CENT = Decimal("0.01")
NAMESPACE = uuid.UUID("3d9d8a5e-2b71-4c0e-8f0a-5b8f5d1c7e21")
TierKey = tuple[str, str]
"""(basis, period key): ``("month", "2026-03")``."""


@dataclass(frozen=True, slots=True)
class Line:
    start: datetime
    end: datetime
    version: int
    season: str | None
    period: Period
    tier: int | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def as_json(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "version": self.version,
                "season": self.season, "period": self.period.value, "tier": self.tier,
                "quantity": str(self.quantity), "unit_price": str(self.unit_price), "amount": str(self.amount)}


@dataclass(frozen=True, slots=True)
class Priced:
    lines: tuple[Line, ...]
    amount: Decimal
    quantity: Decimal
    flags: tuple[str, ...]
    tier_used: dict[TierKey, Decimal]
    """The account's tier usage after this charge (only the keys it touched)."""


def charge_id(account_id: str, usage: Usage) -> uuid.UUID:
    """The same account, meter and interval always give the same charge id."""
    return uuid.uuid5(NAMESPACE, f"{account_id}/{usage.meter_id}/{usage.start.isoformat()}/{usage.end.isoformat()}")


def split(quantity: Decimal, weights: Sequence[float]) -> list[Decimal]:
    """``quantity`` in proportion to ``weights``, to 6 decimals, adding up to ``quantity`` exactly."""
    whole = sum(weights)
    out, before, running = [], Decimal(0), 0.0
    for w in weights:
        running += w
        upto = (quantity * Decimal(repr(running)) / Decimal(repr(whole))).quantize(QUANTUM, ROUND_HALF_EVEN) \
            if whole > 0 else quantity
        out.append(upto - before)
        before = upto
    out[-1] += quantity - before
    return out


def _pieces_total(usage: Usage, tariff: Tariff) -> list[tuple[Segment, Period, Decimal]]:
    segments = tariff.segments(usage.start, usage.end, by_period=True)
    shares = split(usage.total, [s.seconds for s in segments])
    return [(s, s.period, q) for s, q in zip(segments, shares, strict=True) if s.period is not None]


def _pieces_registers(usage: Usage, tariff: Tariff, category: str) -> list[tuple[Segment, Period, Decimal]] | None:
    assert usage.by_register is not None
    segments = tariff.segments(usage.start, usage.end, by_period=False)
    if any(s.version.price(category, p) is None for s in segments for p, q in usage.by_register.items() if q):
        return None
    per_register = {p: split(q, [s.seconds for s in segments]) for p, q in usage.by_register.items()}
    return [(s, p, per_register[p][i]) for i, s in enumerate(segments) for p in sorted(
        per_register, key=lambda p: p.register)]


def price(usage: Usage, tariff: Tariff, category: str, tier_used: Mapping[TierKey, Decimal]) -> Priced:
    """Lines and amount of ``usage``; :class:`TariffError` when the tariff cannot price it."""
    flags = set(usage.flags)
    pieces = _pieces_registers(usage, tariff, category) if usage.by_register is not None else None
    if pieces is None:
        if usage.by_register is not None:
            flags.add("tou_fallback")
        pieces = _pieces_total(usage, tariff)
    used = dict(tier_used)
    touched: dict[TierKey, Decimal] = {}
    lines: list[Line] = []
    for segment, period, quantity in pieces:
        if quantity == 0:
            continue
        base = segment.version.price(category, period)
        if base is None:
            raise TariffError(f"tariff {tariff.tariff_id} version {segment.version.number} has no price for"
                              f" category {category!r} in period {period.value}")
        tiers = segment.version.tiers
        if tiers is None or not tiers.applies_to(category) or segment.tier_key is None:
            parts: list[tuple[int | None, Decimal, Decimal]] = [(None, quantity, Decimal(0))]
        else:
            key = (tiers.basis.value, segment.tier_key)
            parts = list(tiers.split(used.get(key, Decimal(0)), quantity))
            used[key] = touched[key] = used.get(key, Decimal(0)) + quantity
        for tier, q, surcharge in parts:
            unit = base + surcharge
            lines.append(Line(segment.start, segment.end, segment.version.number, segment.season, period, tier,
                              q, unit, q * unit))
    amount = sum((line.amount for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    return Priced(tuple(lines), amount, usage.total, tuple(sorted(flags)), touched)
