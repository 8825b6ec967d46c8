"""One coarse timer wheel for every connection's login and heartbeat deadline.

Tens of thousands of connections must not each own a timer. Each connection
sits in exactly one bucket (a one-second slot by default); a heartbeat does
not move it — it only updates the connection's ``last_seen``. When a slot
falls due, each entry is asked for its real deadline: past due entries expire,
the others are filed again under their new slot. A tick therefore costs
O(entries due), a heartbeat O(1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class DeadlineWheel(Generic[T]):
    """``deadline_of(item)`` returns the item's current deadline (monotonic seconds) or None (forget it)."""

    def __init__(self, deadline_of: Callable[[T], float | None], resolution_s: float = 1.0) -> None:
        self._deadline_of = deadline_of
        self._resolution = resolution_s
        self._slots: dict[int, list[T]] = {}
        self._next_slot: int | None = None

    def __len__(self) -> int:
        return sum(len(items) for items in self._slots.values())

    def _slot(self, deadline: float) -> int:
        return math.ceil(deadline / self._resolution)

    def schedule(self, item: T, deadline: float) -> None:
        """File ``item`` under ``deadline``; call once per item (it re-files itself later)."""
        slot = self._slot(deadline)
        bucket = self._slots.get(slot)
        if bucket is None:
            self._slots[slot] = [item]
        else:
            bucket.append(item)
        if self._next_slot is None or slot < self._next_slot:
            self._next_slot = slot

    def expire(self, now: float) -> list[T]:
        """Items whose deadline has passed; the rest of the due slots are filed again."""
        expired: list[T] = []
        current = math.floor(now / self._resolution)
        if self._next_slot is None or self._next_slot > current:
            return expired
        due = sorted(slot for slot in self._slots if slot <= current)
        for slot in due:
            for item in self._slots.pop(slot):
                deadline = self._deadline_of(item)
                if deadline is None:
                    continue
                if deadline <= now:
                    expired.append(item)
                else:
                    self.schedule(item, deadline)
        self._next_slot = min(self._slots) if self._slots else None
        return expired
