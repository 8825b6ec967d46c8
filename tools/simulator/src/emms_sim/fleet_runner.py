"""Run many concentrator sessions in one event loop, ramping connections, and report their status."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from emms_sim import collectors
from emms_sim.cascade import Cascade
from emms_sim.session import SessionConfig, TerminalSession
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth


def expand_source_ips(text: str | None) -> list[str]:
    """``"127.0.0.1-127.0.0.8"`` or ``"127.0.0.2,127.0.0.3"`` → addresses (one per ~28k connections)."""
    if not text:
        return []
    out: list[str] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        lo = ipaddress.ip_address(first)
        hi = ipaddress.ip_address(last) if last else lo
        if int(hi) < int(lo) or int(hi) - int(lo) > 4096:
            raise ValueError(f"bad source address range {part!r}")
        out += [str(ipaddress.ip_address(int(lo) + k)) for k in range(int(hi) - int(lo) + 1)]
    return out


def share_of(concentrators: int, share: int, shares: int) -> range:
    """Terminal indexes of process ``share`` (0-based) of ``shares``: contiguous, sizes differ by at most one."""
    if not 0 <= share < shares:
        raise ValueError(f"share {share} is not within 0..{shares - 1}")
    return range(concentrators * share // shares, concentrators * (share + 1) // shares)


def select_events(events: Iterable[dict[str, Any]], since: datetime, until: datetime, terminal: int | None
                  ) -> list[dict[str, Any]]:
    """Run-time events in [since, until), of one terminal or all."""
    lo, hi = since.isoformat(), until.isoformat()
    return [e for e in list(events)
            if (terminal is None or e.get("terminal_index") == terminal)
            and lo <= str(datetime.fromisoformat(str(e["at"])).isoformat()) < hi]


class FleetRunner:
    """The sessions of some terminals of a fleet (all by default, a share of them in a child process).

    ``--source-ip`` addresses rotate over this runner's own sessions, so every
    process of a multi-process fleet spreads its links over all of them. A cascaded terminal
    (``cascade``) runs no session: the session of the root of its chain answers for it, in whichever
    runner holds that root.
    """

    def __init__(self, truth: GroundTruth, base: SessionConfig, *, heartbeat_s: float = 60.0, reporting: bool = False,
                 indexes: range | None = None, source_ips: list[str] | None = None, ramp_per_s: float = 500.0,
                 on_event: Callable[[dict[str, Any]], None] | None = None, cascade: Cascade | None = None) -> None:
        self.truth = truth
        self.ramp_per_s = ramp_per_s
        self.events: deque[dict[str, Any]] = deque(maxlen=20000)
        self._on_event = on_event
        self.cascade = cascade or Cascade({})
        indexes = indexes if indexes is not None else truth.fleet.terminals()
        ips = source_ips or []
        self.sessions: list[TerminalSession] = []
        for n, i in enumerate(i for i in indexes if not self.cascade.cascaded(i)):
            state = TerminalState(truth, i, heartbeat_s=heartbeat_s, reporting=reporting)
            riders = [TerminalState(truth, x, heartbeat_s=heartbeat_s, reporting=reporting)
                      for x in self.cascade.riders(i)]
            config = replace(base, source_ip=ips[n % len(ips)] if ips else base.source_ip)
            self.sessions.append(TerminalSession(state, config, self._event, cascaded=riders))

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = []
        for n, session in enumerate(self.sessions):
            if stop.is_set():
                break
            tasks.append(asyncio.create_task(session.run(stop), name=f"terminal-{session.state.index}"))
            if self.ramp_per_s > 0 and n % 50 == 49:
                await asyncio.sleep(50 / self.ramp_per_s)
        await asyncio.gather(*tasks, return_exceptions=True)

    def counts(self) -> dict[str, int]:
        s = [x.stats for x in self.sessions]
        return {"terminals": len(s), "connected": sum(x.connected for x in s), "logged_in": sum(x.logged_in for x in s),
                "heartbeats": sum(x.heartbeats for x in s), "requests": sum(x.requests for x in s),
                "reports": sum(x.reports for x in s), "retransmissions": sum(x.retransmissions for x in s),
                "connects": sum(x.connects for x in s)}

    def status(self) -> list[dict[str, Any]]:
        """One entry per terminal of this runner's sessions, cascaded ones too (``cascaded_via``: the key of
        the terminal they hang behind; their link is their root's)."""
        now = time.time()
        out = []
        for session in self.sessions:
            out.append(self._status(session, session.state, now))
            out += [self._status(session, rider, now) for rider in session.cascaded.values()]
        return sorted(out, key=lambda entry: int(entry["index"]))

    def _status(self, session: TerminalSession, state: TerminalState, now: float) -> dict[str, Any]:
        st = session.stats
        via = self.cascade.behind.get(state.index)
        return {"index": state.index, "key": state.address.key, "connected": st.connected,
                "logged_in": st.logged_in, "heartbeat_s": state.heartbeat_s, "reporting": state.reporting,
                "clock_offset_s": round(state.clock_offset(now), 3), "ec": list(state.ec),
                "channel": st.channel, "failovers": st.failovers,
                "collectors": [{"address": c, "clock_offset_s": round(collectors.clock_offset(
                    state.truth, c, now), 3)} for c in collectors.addresses(state.truth, state.index)],
                "logins": st.logins, "heartbeats": st.heartbeats, "requests": st.requests,
                "faults_injected": dict(session.wire.injected),
                "cascaded_via": None if via is None else self.truth.fleet.terminal(via).key}

    def runtime_events(self, since: datetime, until: datetime, terminal: int | None) -> list[dict[str, Any]]:
        return select_events(self.events, since, until, terminal)
