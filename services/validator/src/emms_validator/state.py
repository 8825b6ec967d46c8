"""Last-known state per meter item and per meter, persisted in the ``validator`` schema.

The rules are judged against this state (the last accepted register value,
the learned interval, the history profile, runs of zeros and of identical
samples, recently received values). It is loaded and saved in the same
transaction as the inbox claim of the batch that changed it, so a restart or
a redelivery sees exactly the state the batch saw the first time.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any

from emms_validator.estimation.profile import Profile
from emms_validator.rules.limits import StuckRun, ZeroRun

RECENT = 16  # received points kept per item for duplicate detection
EVENTS_KEPT = 8


@dataclass(slots=True)
class SeriesState:
    item: str
    last_t: float | None = None  # the last accepted point: the baseline of the next one
    last_value: float | None = None
    interval_s: float | None = None
    recent: list[tuple[float, float | None]] = field(default_factory=list)
    held_run: list[tuple[float, float]] = field(default_factory=list)
    zero: ZeroRun = field(default_factory=lambda: ZeroRun(None, False))
    stuck: StuckRun = field(default_factory=lambda: StuckRun(None, 0))
    profile: Profile | None = None
    episode: bool = False  # an out-of-tolerance episode is open (reported once, at its start)

    def remember(self, t: float, value: float | None) -> None:
        recent = self.recent
        if not recent or t > recent[-1][0]:  # the usual case: the newest point
            recent.append((t, value))
            if len(recent) > RECENT:
                del recent[0]
            return
        recent = [p for p in recent if p[0] != t]
        recent.append((t, value))
        recent.sort(key=lambda p: p[0])
        self.recent = recent[-RECENT:]

    def received(self, t: float) -> tuple[bool, float | None]:
        recent = self.recent
        if not recent or t > recent[-1][0]:
            return False, None
        for rt, rv in recent:
            if rt == t:
                return True, rv
        return False, None

    @property
    def latest_received(self) -> float | None:
        return self.recent[-1][0] if self.recent else None

    def pack(self) -> bytes:
        """The state as one array of doubles (NaN for "none"): cheap to store and to load in bulk.

        Layout: version, last_t, last_value, interval_s, zero since, zero reported,
        stuck value, stuck count, episode, #recent, #held, has profile; then the
        recent and held ``(t, value)`` pairs; then the profile.
        """
        a = array("d", (1.0, _f(self.last_t), _f(self.last_value), _f(self.interval_s), _f(self.zero.since),
                        float(self.zero.reported), _f(self.stuck.value), float(self.stuck.count),
                        float(self.episode), float(len(self.recent)), float(len(self.held_run)),
                        float(self.profile is not None)))
        nan = math.nan
        a.extend([x for t, v in self.recent for x in (t, nan if v is None else v)])
        a.extend([x for pair in self.held_run for x in pair])
        if self.profile is not None:
            self.profile.pack_into(a)
        return a.tobytes()

    @classmethod
    def unpack(cls, item: str, blob: bytes) -> SeriesState:
        a = array("d")
        a.frombytes(blob)
        if not a or a[0] != 1.0:
            raise ValueError(f"series state of {item!r}: unknown layout")
        n_recent, n_held = int(a[9]), int(a[10])
        at = HEADER
        recent = a[at:at + 2 * n_recent].tolist()
        at += 2 * n_recent
        held = a[at:at + 2 * n_held].tolist()
        at += 2 * n_held
        return cls(
            item=item, last_t=_o(a[1]), last_value=_o(a[2]), interval_s=_o(a[3]),
            recent=list(zip(recent[0::2], [None if v != v else v for v in recent[1::2]], strict=True)),  # NaN: none
            held_run=list(zip(held[0::2], held[1::2], strict=True)),
            zero=ZeroRun(_o(a[4]), bool(a[5])), stuck=StuckRun(_o(a[6]), int(a[7])), episode=bool(a[8]),
            profile=Profile.unpack(a, at) if a[11] else None,
        )


HEADER = 12


def _f(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _o(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(slots=True)
class MeterState:
    """Facts from device events and master data that explain or contradict readings."""

    valve_closed_since: float | None = None
    valve_flow_reported: float | None = None  # the closure whose flow was reported (once per closure)
    outages: list[tuple[float, float | None]] = field(default_factory=list)
    replacements: list[tuple[float, float]] = field(default_factory=list)
    terminal: str = ""  # the terminal the meter was last heard through (the bus key of its manual edits)

    def valve(self, t: float, closed: bool) -> None:
        if closed and self.valve_closed_since is None:
            self.valve_closed_since = t
        elif not closed:
            self.valve_closed_since = None

    def power_off(self, t: float) -> None:
        if not self.outages or self.outages[-1][1] is not None:
            self.outages = [*self.outages, (t, None)][-EVENTS_KEPT:]

    def power_on(self, t: float) -> None:
        if self.outages and self.outages[-1][1] is None and self.outages[-1][0] <= t:
            self.outages[-1] = (self.outages[-1][0], t)
        else:
            self.outages = [*self.outages, (t, t)][-EVENTS_KEPT:]

    def replaced(self, t: float, start_value: float) -> None:
        if (t, start_value) not in self.replacements:
            self.replacements = sorted([*self.replacements, (t, start_value)])[-EVENTS_KEPT:]

    def outage_between(self, a: float, b: float) -> bool:
        return any(start < b and (end is None or end > a) for start, end in self.outages)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"valve": self.valve_closed_since, "vfr": self.valve_flow_reported,
                                "out": [list(o) for o in self.outages], "rep": [list(r) for r in self.replacements]}
        if self.terminal:
            data["term"] = self.terminal
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MeterState:
        return cls(valve_closed_since=data.get("valve"), valve_flow_reported=data.get("vfr"),
                   outages=[(float(a), None if b is None else float(b)) for a, b in data.get("out", [])],
                   replacements=[(float(a), float(b)) for a, b in data.get("rep", [])],
                   terminal=str(data.get("term", "")))
