"""The request bodies that define a tariff and its versions, and their checks into the pricing model.

The shape (formats, sizes, bounds) is checked by pydantic (422 from FastAPI); the rules between
fields (a day table covering 24 h, seasons not sharing a day, ascending tiers, a price for every
period and category) by :func:`build_version`, which raises :class:`TariffError` with the reason.
A stored version is its body as JSON, rebuilt by the same function.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from emms_control.categories import Utility, check_category
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.model import Tariff, Version
from emms_control.tariffs.periods import Period, day_table
from emms_control.tariffs.seasons import Season, check_seasons, day_of_year
from emms_control.tariffs.tiers import Block, TierBasis, Tiers, check_blocks

HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
MMDD = Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
CATEGORY = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,39}$")]
TARIFF_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Price = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=14, decimal_places=6, allow_inf_nan=False)]
Amount = Annotated[Decimal, Field(ge=0, le=10**12, max_digits=18, decimal_places=6, allow_inf_nan=False)]
EARLIEST, LATEST = 2000, 2100


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DayEntry(Body):
    start: HHMM = Field(examples=["23:00"])
    end: HHMM = Field(examples=["07:00"], description="not after start: the entry runs over midnight")
    period: Period


class SeasonBody(Body):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_ -]{0,39}$")]
    start: MMDD
    end: MMDD = Field(description="included; before start: the season runs over the new year")
    day_table: list[DayEntry] = Field(min_length=1, max_length=48)


class BlockBody(Body):
    up_to: Amount | None = Field(description="usage of the tier period where this block ends; null: open")
    surcharge: Price = Field(description="added to the period's price for each unit in this block")


class TiersBody(Body):
    basis: TierBasis
    blocks: list[BlockBody] = Field(min_length=1, max_length=10)
    categories: list[CATEGORY] = Field(default_factory=list, max_length=22,
                                       description="categories the blocks apply to; empty: every category")


class VersionBody(Body):
    effective_from: AwareDatetime
    day_table: list[DayEntry] = Field(min_length=1, max_length=48,
                                      description="the day's periods on days in no season")
    seasons: list[SeasonBody] = Field(default_factory=list, max_length=12)
    tiers: TiersBody | None = None
    prices: dict[CATEGORY, dict[Period, Price]] = Field(
        min_length=1, max_length=22, description="customer category → period → price per unit")
    note: Annotated[str, StringConstraints(max_length=500)] = ""

    @field_validator("effective_from")
    @classmethod
    def _bounded(cls, value: datetime) -> datetime:
        if not EARLIEST <= value.year < LATEST:
            raise ValueError(f"effective_from must lie in {EARLIEST} … {LATEST - 1}")
        return value


class TariffBody(Body):
    tariff_id: Annotated[str, StringConstraints(pattern=TARIFF_ID)]
    utility: Utility
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    utc_offset_minutes: int = Field(480, ge=-720, le=840, description="local time of the day tables (480: China)")
    version: VersionBody


def _table(entries: list[DayEntry], where: str) -> Any:
    try:
        return day_table([(e.start, e.end, e.period) for e in entries])
    except TariffError as exc:
        raise TariffError(f"{where}: {exc}") from None


def _tiers(body: TiersBody | None, utility: str) -> Tiers | None:
    if body is None:
        return None
    for code in body.categories:
        reason = check_category(utility, code)
        if reason:
            raise TariffError(f"tiers: {reason}")
    blocks = check_blocks([Block(b.up_to, b.surcharge) for b in body.blocks])
    return Tiers(body.basis, blocks, frozenset(body.categories))


def build_version(body: VersionBody, utility: str, number: int) -> Version:
    """Check ``body`` as a version of a tariff of ``utility``; :class:`TariffError` says what is wrong."""
    default = _table(body.day_table, "day table")
    seasons = check_seasons([Season(s.name, day_of_year(s.start), day_of_year(s.end),
                                    _table(s.day_table, f"season {s.name!r} day table")) for s in body.seasons])
    for code in body.prices:
        reason = check_category(utility, code)
        if reason:
            raise TariffError(f"prices: {reason}")
    version = Version(number, body.effective_from, default, seasons, _tiers(body.tiers, utility),
                      {c: dict(p) for c, p in body.prices.items()})
    for code in sorted(body.prices):
        missing = version.unpriced(code)
        if missing:
            raise TariffError(f"prices: category {code!r} has no price for period(s)"
                              f" {[p.value for p in missing]} used by the day tables")
    return version


def build_tariff(tariff_id: str, utility: str, utc_offset_minutes: int,
                 versions: list[tuple[int, dict[str, Any]]]) -> Tariff:
    """A stored tariff: its versions as stored JSON bodies, in any order."""
    built = [build_version(VersionBody.model_validate(d), utility, n) for n, d in versions]
    built.sort(key=lambda v: v.effective_from)
    return Tariff(tariff_id, utility, timedelta(minutes=utc_offset_minutes), tuple(built))
