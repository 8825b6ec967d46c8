"""A meter item's own history: consumption per weekday class and time slot.

The classes follow the Western Australian "nearest equivalent day" table
(VEE-RULES.md E5): Monday; Tuesday–Thursday together; Friday; Saturday; Sunday.
Each (class, slot) keeps an exponentially weighted mean and variance of the
consumption per interval — the historical average over the last few like days
(E5; ``alpha`` ≈ 0.3 weighs roughly the previous three weeks) — and the last
value seen (the previous like day). Spikes and low usage are judged against
it (V10, V12) and longer gaps are estimated from it.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

CLASSES = 5
_CLASS_OF_WEEKDAY = (0, 1, 1, 1, 2, 3, 4)  # Mon, Tue, Wed, Thu, Fri, Sat, Sun
MIN_INTERVAL_S = 900  # denser series are not profiled (the profile would be too large to keep per item)
DAY_S = 86_400


def weekday_class(t: float, offset_s: float) -> int:
    days = math.floor((t + offset_s) / DAY_S)
    return _CLASS_OF_WEEKDAY[(days + 3) % 7]  # 1970-01-01 was a Thursday


@dataclass(slots=True)
class Expected:
    mean: float
    std: float
    samples: int


@dataclass(slots=True)
class Profile:
    """Cells as arrays of doubles: packing and unpacking (once per item and batch) are then copies."""

    interval_s: float
    slots: int
    mean: array[float]
    var: array[float]
    n: array[float]  # samples per cell (a float, so the profile packs into one array of doubles)
    last: array[float]  # the previous like day's value; NaN where none was seen

    @classmethod
    def empty(cls, interval_s: float) -> Profile | None:
        slots = cls.slots_of(interval_s)
        if slots is None:
            return None
        size = CLASSES * slots
        zeros = array("d", bytes(8 * size))
        return cls(interval_s, slots, zeros, array("d", zeros), array("d", zeros), array("d", [math.nan]) * size)

    @staticmethod
    def slots_of(interval_s: float) -> int | None:
        """Cells per weekday class, or None for an interval that is not profiled."""
        if interval_s < MIN_INTERVAL_S or interval_s > DAY_S or DAY_S % int(interval_s):
            return None
        return int(DAY_S // interval_s)

    def index(self, end_t: float, offset_s: float) -> int:
        """The (class, slot) cell of the interval that ends at ``end_t``."""
        start = end_t - self.interval_s
        local = start + offset_s
        slot = int((local % DAY_S) // self.interval_s) % self.slots
        return weekday_class(start, offset_s) * self.slots + slot

    def update(self, end_t: float, increment: float, offset_s: float, alpha: float) -> None:
        i = self.index(end_t, offset_s)
        n = self.n[i]
        a = max(alpha, 1.0 / (n + 1))
        diff = increment - self.mean[i]
        step = a * diff
        self.mean[i] += step
        self.var[i] = (1 - a) * (self.var[i] + diff * step) if n else 0.0
        self.n[i] = min(n + 1.0, 1e6)
        self.last[i] = increment

    def expected(self, end_t: float, offset_s: float, min_history: int) -> Expected | None:
        """The usual consumption of one interval: its own class if known, else all classes pooled."""
        i = self.index(end_t, offset_s)
        if self.n[i] >= min_history:
            return Expected(self.mean[i], math.sqrt(max(self.var[i], 0.0)), int(self.n[i]))
        slot, slots = i % self.slots, self.slots
        total = weighted = 0.0
        for c in range(CLASSES):
            n = self.n[c * slots + slot]
            if n:
                total += n
                weighted += self.mean[c * slots + slot] * n
        if total < min_history:
            return None
        mean = weighted / total
        spread = 0.0
        for c in range(CLASSES):
            j = c * slots + slot
            if self.n[j]:
                spread += (self.var[j] + (self.mean[j] - mean) ** 2) * self.n[j]
        return Expected(mean, math.sqrt(max(spread / total, 0.0)), int(total))

    def expected_span(self, prev_t: float, t: float, offset_s: float, min_history: int) -> Expected | None:
        """The usual consumption from ``prev_t`` to ``t`` (sum over the intervals it covers)."""
        steps = max(1, round((t - prev_t) / self.interval_s))
        if steps == 1:
            return self.expected(t, offset_s, min_history)
        if steps > 4 * self.slots * 7:  # more than four weeks: history says little
            return None
        mean = var = 0.0
        samples = 10**9
        for k in range(1, steps + 1):
            e = self.expected(prev_t + k * self.interval_s, offset_s, min_history)
            if e is None:
                return None
            mean += e.mean
            var += e.std ** 2
            samples = min(samples, e.samples)
        return Expected(mean, math.sqrt(var), samples)

    def daily_mean(self) -> float | None:
        """Average consumption per day over all weekday classes seen (ADU)."""
        per_class = []
        for c in range(CLASSES):
            cells = range(c * self.slots, (c + 1) * self.slots)
            if all(self.n[i] for i in cells):
                per_class.append((sum(self.mean[i] for i in cells), min(self.n[i] for i in cells)))
        total = sum(n for _, n in per_class)
        return sum(m * n for m, n in per_class) / total if total else None

    def like_day(self, end_t: float, offset_s: float) -> float | None:
        """The consumption of the same interval on the previous like day (E5 nearest equivalent day)."""
        value = self.last[self.index(end_t, offset_s)]
        return None if math.isnan(value) else value

    def pack_into(self, out: array[float]) -> None:
        """Append ``[interval, mean…, var…, n…, last…]`` to a double array (see :mod:`emms_validator.state`)."""
        out.append(self.interval_s)
        out.extend(self.mean)
        out.extend(self.var)
        out.extend(self.n)
        out.extend(self.last)

    @classmethod
    def unpack(cls, data: array[float], at: int) -> Profile | None:
        interval_s = data[at]
        slots = cls.slots_of(interval_s)
        if slots is None:
            return None
        size = CLASSES * slots
        a = at + 1
        return cls(interval_s, slots, data[a:a + size], data[a + size:a + 2 * size],
                   data[a + 2 * size:a + 3 * size], data[a + 3 * size:a + 4 * size])
