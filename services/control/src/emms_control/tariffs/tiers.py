"""Tiered (阶梯) blocks: a surcharge per unit above each threshold of usage per year or month.

Blocks are ``(up_to, surcharge)`` with strictly ascending ``up_to`` and an open last block
(``up_to`` None). A unit used when the account's usage of the tier period so far lies in a block
costs the period's price plus that block's surcharge. Because the surcharge is added to the
time-of-use price, the surcharge of a whole tier period depends only on the period's total
usage, not on the order in which readings arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from emms_control.tariffs.errors import TariffError


class TierBasis(StrEnum):
    YEAR = "year"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Block:
    up_to: Decimal | None
    surcharge: Decimal


@dataclass(frozen=True, slots=True)
class Tiers:
    basis: TierBasis
    blocks: tuple[Block, ...]
    categories: frozenset[str]
    """Categories the blocks apply to; empty: every category."""

    def applies_to(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def split(self, used_before: Decimal, quantity: Decimal) -> list[tuple[int, Decimal, Decimal]]:
        """``quantity`` used after ``used_before`` → ``(block number from 1, quantity, surcharge)`` per block."""
        out: list[tuple[int, Decimal, Decimal]] = []
        position, left = used_before, quantity
        for number, block in enumerate(self.blocks, start=1):
            if left <= 0:
                break
            room = left if block.up_to is None else max(Decimal(0), block.up_to - position)
            take = min(room, left)
            if take > 0:
                out.append((number, take, block.surcharge))
                position += take
                left -= take
        return out


def check_blocks(blocks: Sequence[Block]) -> tuple[Block, ...]:
    if not blocks:
        raise TariffError("tiers need at least one block")
    if blocks[-1].up_to is not None:
        raise TariffError("the last tier block must be open (up_to null)")
    previous = Decimal(0)
    for number, block in enumerate(blocks[:-1], start=1):
        if block.up_to is None:
            raise TariffError(f"only the last tier block may be open; block {number} is")
        if block.up_to <= previous:
            raise TariffError(f"tier thresholds must ascend: block {number} ends at {block.up_to},"
                              f" not above {previous}")
        previous = block.up_to
    return tuple(blocks)


def period_key(basis: TierBasis, local: datetime) -> str:
    return f"{local.year:04d}" if basis is TierBasis.YEAR else f"{local.year:04d}-{local.month:02d}"


def next_period_start(basis: TierBasis, local: datetime) -> datetime:
    """The local start of the tier period after the one holding ``local`` (naive local time)."""
    if basis is TierBasis.YEAR:
        return datetime(local.year + 1, 1, 1)
    return datetime(local.year + (local.month == 12), local.month % 12 + 1, 1)


def local_naive(t: datetime, offset: timedelta) -> datetime:
    """Wall-clock time at ``offset`` of an aware ``t`` (any zone), without a zone."""
    return (t.astimezone(UTC) + offset).replace(tzinfo=None)
