"""A batch of master-data records on its way in: rows, the records they stand for, row errors.

Shared by imports, syncs and single-record API writes (a write is a batch of one), so every
path applies the same validation and produces the same per-row report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emms_archive.masterdata.entities import ENTITIES
from emms_archive.masterdata.meter_periods import Intent


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    message: str
    field: str | None = None
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "key": self.key, "message": self.message}


@dataclass(frozen=True, slots=True)
class Item:
    """One record of one entity, from data row ``row`` (1-based)."""

    row: int
    entity: str
    record: dict[str, Any]

    @property
    def key(self) -> tuple[str, ...]:
        return ENTITIES[self.entity].key_of(self.record)


@dataclass
class Batch:
    """Records by entity and key (deduplicated), meter-installation intents, and row errors."""

    rows: int = 0
    items: dict[str, dict[tuple[str, ...], Item]] = field(default_factory=dict)
    intents: list[Intent] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def add(self, item: Item) -> None:
        """Add a record; the same key twice must carry the same values."""
        bucket = self.items.setdefault(item.entity, {})
        seen = bucket.get(item.key)
        if seen is None:
            bucket[item.key] = item
        elif seen.record != item.record:
            differing = sorted(k for k in item.record if item.record.get(k) != seen.record.get(k))
            self.errors.append(RowError(item.row, f"{item.entity} {'/'.join(item.key)} is also in row {seen.row} "
                                                  f"with other values ({', '.join(differing)})",
                                        key="/".join(item.key)))

    def of(self, entity: str) -> list[Item]:
        return list(self.items.get(entity, {}).values())

    def record(self, entity: str, key: str) -> dict[str, Any] | None:
        item = self.items.get(entity, {}).get((key,))
        return item.record if item else None

    def error(self, item: Item, message: str, field_name: str | None = None) -> None:
        self.errors.append(RowError(item.row, message, field_name, "/".join(item.key)))

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})
