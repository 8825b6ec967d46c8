"""A report's table as it streams: typed cells per row, and the totals and group subtotals kept on the way.

Renderers read ``rows()`` once, then ``subtotals()`` and ``totals()``. Only the running totals (one
per column, one set per group) are kept: the rows themselves pass through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from emms_reports.datasets import DataSet
from emms_reports.definition import Column, ReportDefinition, Span
from emms_reports.sources import Row

Cell = str | float | int | datetime | None


@dataclass(frozen=True, slots=True)
class Col:
    field: str
    label: str
    format: str
    total: str
    width: float | None


@dataclass(slots=True)
class Accumulator:
    how: str
    n: int = 0
    sum: int | float = 0
    low: Any = None
    high: Any = None

    def add(self, value: Cell) -> None:
        if value is None or value == "":
            return
        self.n += 1
        if isinstance(value, (int, float)):
            self.sum += value
        if self.low is None or value < self.low:
            self.low = value
        if self.high is None or value > self.high:
            self.high = value

    def value(self) -> Cell:
        if self.how == "count":
            return self.n
        if self.how == "sum":
            return self.sum
        if self.how == "avg":
            return self.sum / self.n if self.n else None
        if self.how == "min":
            return self.low  # type: ignore[no-any-return]
        if self.how == "max":
            return self.high  # type: ignore[no-any-return]
        return None


def _convert(raw: Any, kind: str, tz: ZoneInfo) -> Cell:
    if raw is None or raw == "":
        return None
    if kind == "number":
        return float(raw)
    if kind == "integer":
        return int(float(raw))
    if kind == "datetime":
        t = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        return t.astimezone(tz) if t.tzinfo is not None else t
    return str(raw)


@dataclass
class Table:
    definition: ReportDefinition
    dataset: DataSet
    span: Span
    tz: ZoneInfo
    source: AsyncIterator[Row]
    columns: list[Col] = field(init=False)
    count: int = 0
    _totals: list[Accumulator] = field(init=False)
    _groups: dict[tuple[Cell, ...], list[Accumulator]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.columns = [self._col(c) for c in self.definition.columns]
        self._totals = self._accumulators()

    def _col(self, c: Column) -> Col:
        f = self.dataset.field(c.field)
        label = c.label or (f.label if f else c.field)
        fmt: str = c.format
        if fmt == "text" and f is not None:
            fmt = {"number": "decimal2", "integer": "integer", "datetime": "datetime"}.get(f.type, "text")
        return Col(c.field, label, fmt, c.total, c.width)

    def _type(self, name: str) -> str:
        f = self.dataset.field(name)
        return f.type if f is not None else "text"

    def _accumulators(self) -> list[Accumulator]:
        return [Accumulator(c.total) for c in self.columns]

    @property
    def has_totals(self) -> bool:
        return any(c.total != "none" for c in self.columns)

    async def rows(self) -> AsyncIterator[list[Cell]]:
        kinds = [(c.field, self._type(c.field)) for c in self.columns]
        group_at = [i for i, c in enumerate(self.columns) if c.field in self.definition.group_by]
        async for raw in self.source:
            cells = [_convert(raw.get(name), kind, self.tz) for name, kind in kinds]
            self.count += 1
            for acc, cell in zip(self._totals, cells, strict=True):
                acc.add(cell)
            if group_at:
                key = tuple(cells[i] for i in group_at)
                accs = self._groups.get(key)
                if accs is None:
                    accs = self._groups[key] = self._accumulators()
                for acc, cell in zip(accs, cells, strict=True):
                    acc.add(cell)
            yield cells

    def totals(self) -> list[Cell]:
        out: list[Cell] = [a.value() for a in self._totals]
        if out and out[0] is None and self.columns[0].total == "none":
            out[0] = "合计 Total"
        return out

    def subtotals(self) -> list[list[Cell]]:
        """One row per group (sorted by its key): the group's key cells and its totals."""
        group_at = [i for i, c in enumerate(self.columns) if c.field in self.definition.group_by]
        out = []
        for key in sorted(self._groups, key=lambda k: tuple("" if v is None else str(v) for v in k)):
            values: list[Cell] = [a.value() for a in self._groups[key]]
            for i, v in zip(group_at, key, strict=True):
                values[i] = v
            out.append(values)
        return out

    def period_text(self) -> str:
        start = self.span.start.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        end = self.span.end.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
        return f"统计期间 Period: {start} — {end}"


def display(cell: Cell, fmt: str) -> str:
    """A cell as text (CSV, PDF)."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d" if fmt == "date" else "%Y-%m-%d %H:%M:%S")
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        if fmt == "integer":
            return f"{round(cell):,}"
        if fmt == "percent":
            return f"{cell * 100:.2f}%"
        if fmt in ("decimal1", "decimal2", "decimal3"):
            return f"{cell:,.{fmt[-1]}f}"
        return f"{cell:g}" if isinstance(cell, float) else str(cell)
    return str(cell)
