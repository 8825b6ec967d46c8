"""What the master changed in the field at run time: relays tripped / closed, valves, meter clocks,
terminal protection (保电), a terminal's tariff (AFN04 F21 / F22; :mod:`emms_sim.tariffs`).

The seeded world is fixed; the master's commands are the one input that is not.
They are kept here as short per-meter histories (a few entries per command),
so the truth after a trip is still computable for any time: energy stops
accumulating while the relay is open. Protection is per terminal: intervals
[on, off) from AFN05 F25 (off = on + its duration, or open until F33).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: a change as one JSON-able dict: {"op": "cut", "meter", "ts", "cut_off"}, {"op": "sync", "meter", "ts"},
#: {"op": "protect", "terminal", "ts", "until"} (until None = until released), {"op": "release", "terminal", "ts"}
#: or {"op": "tariff", "terminal", "ts", "slots", "rate_count", "rates"}
LedgerChange = dict[str, Any]


@dataclass(slots=True)
class ControlLedger:
    """Per meter: times at which the supply (relay / valve) opened or closed, and clock syncs."""

    _switches: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)  # (ts, cut_off)
    _clock_syncs: dict[str, list[float]] = field(default_factory=dict)
    _touched: set[str] = field(default_factory=set)  # every meter either dict has a key for (never shrinks)
    _protection: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # terminal key → [(on, off)]
    _tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)  # terminal key → the tariff it was told
    #: told of every change: a fleet child process forwards them so the parent's truth API includes them
    listener: Callable[[LedgerChange], None] | None = None

    def set_cut_off(self, meter_id: str, ts: float, cut_off: bool) -> bool:
        """Record a trip (True) or a close (False) at ``ts``; returns False when nothing changes."""
        history = self._switches.setdefault(meter_id, [])
        self._touched.add(meter_id)
        if self.cut_off(meter_id, ts) == cut_off:
            return False
        bisect.insort(history, (ts, cut_off))
        if self.listener is not None:
            self.listener({"op": "cut", "meter": meter_id, "ts": ts, "cut_off": cut_off})
        return True

    def cut_off(self, meter_id: str, ts: float) -> bool:
        history = self._switches.get(meter_id)
        if not history:
            return False
        i = bisect.bisect_right(history, (ts, True))
        return history[i - 1][1] if i else False

    def off_intervals(self, meter_id: str, until: float) -> list[tuple[float, float]]:
        """Closed-supply intervals [a, b) that start before ``until`` (b clipped to ``until``)."""
        out: list[tuple[float, float]] = []
        start: float | None = None
        for ts, cut in self._switches.get(meter_id, ()):
            if ts >= until:
                break
            if cut and start is None:
                start = ts
            elif not cut and start is not None:
                out.append((start, ts))
                start = None
        if start is not None:
            out.append((start, until))
        return out

    def sync_clock(self, meter_id: str, ts: float) -> None:
        bisect.insort(self._clock_syncs.setdefault(meter_id, []), ts)
        self._touched.add(meter_id)
        if self.listener is not None:
            self.listener({"op": "sync", "meter": meter_id, "ts": ts})

    # ---- terminal protection (保电) ---------------------------------------------------------------
    def protect(self, terminal: str, ts: float, until: float | None) -> None:
        """AFN05 F25 at ``ts``: protected until ``until`` (None: until released). Replaces a running one."""
        history = self._protection.setdefault(terminal, [])
        _end_at(history, ts)
        bisect.insort(history, (ts, math.inf if until is None else max(until, ts)))
        if self.listener is not None:
            self.listener({"op": "protect", "terminal": terminal, "ts": ts, "until": until})

    def release(self, terminal: str, ts: float) -> bool:
        """AFN05 F33 at ``ts``; False when the terminal was not protected then."""
        changed = _end_at(self._protection.get(terminal, []), ts)
        if changed and self.listener is not None:
            self.listener({"op": "release", "terminal": terminal, "ts": ts})
        return changed

    def protection(self, terminal: str, ts: float) -> tuple[float, float | None] | None:
        """(since, until) of the protection in force at ``ts`` (until None: until released); None if none."""
        for on, off in reversed(self._protection.get(terminal, ())):
            if on <= ts:
                return (on, None if math.isinf(off) else off) if ts < off else None
        return None

    def protected(self, terminal: str, ts: float) -> bool:
        return self.protection(terminal, ts) is not None

    def protected_terminals(self) -> list[str]:
        """Every terminal that was ever protected (in force or not)."""
        return sorted(self._protection)

    # ---- terminal tariff (AFN04 F21 / F22) -------------------------------------------------------
    def set_tariff(self, terminal: str, ts: float, slots: list[int], rate_count: int, rates: list[int | None]) -> None:
        """The tariff a terminal holds from ``ts``: F21 periods and M, F22 rates (厘 per kWh)."""
        self._tariffs[terminal] = {"since": ts, "slots": list(slots), "rate_count": rate_count, "rates": list(rates)}
        if self.listener is not None:
            self.listener({"op": "tariff", "terminal": terminal, "ts": ts, "slots": list(slots),
                           "rate_count": rate_count, "rates": list(rates)})

    def tariff(self, terminal: str) -> dict[str, Any] | None:
        """What the terminal was told last (None: never — it holds the default)."""
        return self._tariffs.get(terminal)

    def apply(self, change: LedgerChange) -> None:
        """Replay a change another process's ledger reported; a malformed one raises ValueError."""
        try:
            op, ts = change["op"], float(change["ts"])
            if op == "cut":
                self.set_cut_off(str(change["meter"]), ts, bool(change["cut_off"]))
            elif op == "sync":
                self.sync_clock(str(change["meter"]), ts)
            elif op == "protect":
                until = change["until"]
                self.protect(str(change["terminal"]), ts, None if until is None else float(until))
            elif op == "release":
                self.release(str(change["terminal"]), ts)
            elif op == "tariff":
                self.set_tariff(str(change["terminal"]), ts, [int(v) for v in change["slots"]],
                                int(change["rate_count"]), [None if v is None else int(v) for v in change["rates"]])
            else:
                raise ValueError(f"unknown ledger change {op!r}")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed ledger change {change!r}") from exc

    def last_clock_sync(self, meter_id: str, ts: float) -> float | None:
        syncs = self._clock_syncs.get(meter_id)
        if not syncs:
            return None
        i = bisect.bisect_right(syncs, ts)
        return syncs[i - 1] if i else None

    def touched(self) -> list[str]:
        return sorted(self._touched)

    def touched_count(self) -> int:
        """How many meters :meth:`touched` lists: it changes exactly when that list does (entries are never
        removed), without sorting the list per forwarded frame."""
        return len(self._touched)


def _end_at(history: list[tuple[float, float]], ts: float) -> bool:
    """End the interval of ``history`` in force at ``ts`` there; True if there was one."""
    for i in range(len(history) - 1, -1, -1):
        on, off = history[i]
        if on <= ts:
            if ts < off:
                history[i] = (on, ts)
                return True
            return False
    return False
