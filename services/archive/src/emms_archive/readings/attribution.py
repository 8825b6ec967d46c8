"""Which metering point a meter was on at a reading's data time, decided in the writer.

The direct ingest path attributes each reading in Python so that it can ``COPY`` the rows
straight into ``reading_raw``. The rule is the staging join's: the meter's period with
``valid_from <= data time < valid_to`` (open-ended when ``valid_to`` is null).

Periods are remembered between batches, per meter, and forgotten all at once when
``meter_period_epoch`` moves (migration 0008: every transaction that changes meter periods
bumps it at commit). The epoch is read in the writer's own transaction before the memory is
used, so a batch is attributed with periods at least as new as that read — the same guarantee
the staging join gives with its statement snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_messages.raw_rows import RawRow

Period = tuple[datetime, datetime | None, str]
"""(valid from, valid to or None, metering point)."""

EPOCH_SQL = f"SELECT epoch FROM {SCHEMA}.meter_period_epoch"

# A join with the unnested list, not ``meter_id = ANY($1)``: under a prepared statement's generic
# plan the latter compares every period with every element of a list of thousands.
PERIODS_SQL = f"""
SELECT p.meter_id, p.valid_from, p.valid_to, p.metering_point_id
FROM unnest($1::text[]) AS m(meter_id) JOIN {SCHEMA}.meter_period p ON p.meter_id = m.meter_id"""


class MeterPeriods:
    """The writer's memory of meter periods (shared by the consumers of one process)."""

    def __init__(self, max_meters: int = 1_000_000) -> None:
        self._max = max_meters
        self._epoch: int | None = None
        self._periods: dict[str, list[Period]] = {}
        self.fetched = 0
        """Meters whose periods were read from the database (a measure of how well the memory works)."""

    async def of(self, conn: Connection, meters: Iterable[str]) -> dict[str, list[Period]]:
        """The periods of ``meters`` (and of others remembered), valid for ``conn``'s transaction."""
        epoch = int(await conn.fetchval(EPOCH_SQL))
        if epoch != self._epoch or len(self._periods) > self._max:
            # A new dict, not clear(): a concurrent caller still filling the old one cannot
            # put periods read before this epoch into the new memory.
            self._periods, self._epoch = {}, epoch
        known = self._periods
        missing = [m for m in set(meters) if m not in known]
        if missing:
            fetched: dict[str, list[Period]] = {m: [] for m in missing}
            for meter, start, end, point in await conn.fetch(PERIODS_SQL, missing):
                fetched[meter].append((start, end, point))
            known.update(fetched)
            self.fetched += len(missing)
        return known


def attribute(rows: Sequence[RawRow], periods: dict[str, list[Period]]) -> tuple[list[RawRow], list[RawRow]]:
    """(rows for ``reading_raw`` with their metering point first, rows whose meter was on no point
    at their data time). ``rows`` are staging rows: meter id first, data time third."""
    attributed: list[RawRow] = []
    unplaced: list[RawRow] = []
    placed, missed = attributed.append, unplaced.append
    get = periods.get
    for row in rows:
        t = row[2]
        for start, end, point in get(row[0], ()):
            if start <= t and (end is None or t < end):
                placed((point, *row))
                break
        else:
            missed(row)
    return attributed, unplaced
