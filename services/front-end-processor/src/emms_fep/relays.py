"""Relayed terminals (R-4.6.6): 1376.1 cascade (级联; AFN04 F37 configures it on the device).

A cascaded terminal X has no link of its own: the master sends frames addressed to X over the link of the
terminal X is relayed through (``relay_via`` in ``fep.terminal_channel``); that terminal forwards them over
its cascade port and returns X's answers — frames carrying X's own A1/A2 — on its link. The route is the
chain of ``relay_via``; the *root* of X on this replica is the first terminal of the chain whose session
has a link of its own here. While X has no session of its own and a root exists, X has a relayed session
riding the root's connection (:meth:`SessionRegistry.relay`): requests to X are sent on that link, X's
frames on it are X's (:mod:`emms_fep.gateway`), and ``fep.sessions`` shows X online on this replica with
channel ``relay:<root>`` — so the downlink routing across replicas needs nothing else: the replica holding
the root holds X. When the root's session ends, X's relayed session ends with it (its requests concluded
``offline``, "relay … offline") unless another root is found further along the chain; a request to X with
no root anywhere is answered ``offline`` naming the route (:meth:`RelayRoutes.unreachable`).

The map is read from the database at start, every ``relays.refresh_s`` and at once after a change through
this replica's API; a hop held by another replica is passed over (its replica relays X if it holds the
nearest live hop).
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from emms_fep.connection import Session
from emms_fep.repository.channels import MAX_HOPS, relay_map
from emms_fep.sessions import SessionRegistry
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.fep.relays")


class RelayRoutes:
    def __init__(self, pool: asyncpg.Pool, schema: str, sessions: SessionRegistry, refresh_s: float) -> None:
        self._pool = pool
        self._schema = schema
        self._sessions = sessions
        self._refresh_s = refresh_s
        self._via: dict[str, str] = {}
        self._behind: dict[str, set[str]] = {}  # hop → the terminals whose route passes it
        self._worker: PeriodicWorker | None = None

    def __len__(self) -> int:
        return len(self._via)

    def route(self, terminal: str) -> list[str]:
        """The terminals ``terminal`` is reached through, nearest first (a loop ends it)."""
        hops: list[str] = []
        hop = self._via.get(terminal)
        while hop is not None and hop != terminal and hop not in hops and len(hops) < MAX_HOPS:
            hops.append(hop)
            hop = self._via.get(hop)
        return hops

    def unreachable(self, terminal: str) -> str | None:
        """Why a relayed terminal no replica holds cannot be reached (None when it is not relayed)."""
        hops = self.route(terminal)
        if not hops:
            return None
        return f"relayed through {' → '.join(hops)}: no FEP replica holds a terminal of the route"

    # -- the map ------------------------------------------------------------------------------------------
    def load(self, via: dict[str, str]) -> None:
        """A new map; every relayed session is settled again against it."""
        before = set(self._via)
        self._via = dict(via)
        self._behind = {}
        for terminal in self._via:
            for hop in self.route(terminal):
                self._behind.setdefault(hop, set()).add(terminal)
        self.settle(before | set(self._via))

    async def refresh(self) -> None:
        async with self._pool.acquire() as conn:
            via = await relay_map(conn, self._schema)
        if via != self._via:
            log.info("relay routes changed", relayed=len(via))
            self.load(via)

    def poke(self) -> None:
        if self._worker is not None:
            self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        self._worker = PeriodicWorker("fep-relays", self.refresh, self._refresh_s)
        await self._worker.run(stop)

    # -- sessions -----------------------------------------------------------------------------------------
    def arrived(self, session: Session) -> None:
        """A terminal logged in on a link of its own: the terminals relayed through it ride that link."""
        if session.via is None and session.terminal in self._behind:
            self.settle(self._behind[session.terminal])

    def departed(self, terminal: str) -> None:
        """A session ended: the terminals relayed through it (and it, when relayed itself) look for a root."""
        self.settle(self._behind.get(terminal, set()) | ({terminal} if terminal in self._via else set()))

    def settle(self, terminals: set[str]) -> None:
        for terminal in sorted(terminals):
            self._settle(terminal)

    def _settle(self, terminal: str) -> None:
        current = self._sessions.get(terminal)
        if current is not None and current.via is None:
            return  # on a link of its own
        hops = self.route(terminal)
        root = next((s for hop in hops if (s := self._sessions.get(hop)) is not None and s.via is None), None)
        if root is None:
            if current is not None:
                self._sessions.end(current, f"relay route {' → '.join(hops)} offline" if hops
                                   else "no longer relayed")
        elif current is None or current.conn is not root.conn:
            self._sessions.relay(terminal, root)
