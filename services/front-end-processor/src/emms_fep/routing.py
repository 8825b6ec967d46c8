"""Downlink routing across FEP replicas.

Every replica consumes ``emms.downlink.request.v1`` in its own consumer group,
so each one sees every request (broadcast). For each request:

* the replica that holds the terminal's session claims it (``fep.requests``)
  and sends it;
* the others *park* it for ``offline_grace_s``: if the terminal logs in on a
  replica during that time, that replica takes the parked request (this is how
  a terminal that reconnects to another replica still receives its commands);
* when the grace is over and the session table shows the terminal online on
  another live replica, the request is that replica's and is dropped here;
  otherwise the *preferred answerer* — the replica that last held the terminal
  if it is alive, else the rendezvous-hash owner of the terminal over the live
  replica set — claims it and answers ``offline``. The other replicas try the
  same claim ``answer_slack_s`` later, so a dead or partitioned preferred
  replica never leaves a request unanswered.

The claim row makes every action exactly-once: only the replica that inserted
it sends or answers, and a redelivered request finds the row and is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from emms_bus import Delivery
from emms_fep import metrics
from emms_fep.downlink import DownlinkDispatcher
from emms_fep.repository import replicas as replica_repo
from emms_fep.repository.requests import RequestLedger
from emms_fep.repository.sessions import holders
from emms_fep.sessions import SessionRegistry
from emms_fep.settings import DownlinkSettings, ReplicaSettings
from emms_messages.terminal import DownlinkRequest

log = structlog.get_logger("emms.fep.routing")


def rendezvous_owner(terminal: str, replicas: Sequence[str]) -> str:
    """The replica with the highest hash of (terminal, replica): stable as replicas come and go."""
    return max(replicas, key=lambda r: hashlib.blake2b(f"{terminal}|{r}".encode(), digest_size=8).digest())


@dataclass(slots=True)
class Parked:
    request: DownlinkRequest
    due: float
    last_try: bool = False


class DownlinkRouter:
    def __init__(self, *, replica: str, pool: asyncpg.Pool, schema: str, sessions: SessionRegistry,
                 dispatcher: DownlinkDispatcher, ledger: RequestLedger, downlink: DownlinkSettings,
                 replicas: ReplicaSettings, count_links: Callable[[], int], max_parked: int = 100_000,
                 unreachable: Callable[[str], str | None] = lambda terminal: None) -> None:
        self.replica = replica
        self._pool = pool
        self._schema = schema
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._ledger = ledger
        self._grace = downlink.offline_grace_s
        self._slack = downlink.answer_slack_s
        self._replica_settings = replicas
        self._max_parked = max_parked
        self._count_links = count_links
        self._unreachable = unreachable  # why a relayed terminal nobody holds cannot be reached (its route)
        self._parked: deque[Parked] = deque()
        self._by_terminal: dict[str, list[Parked]] = {}
        self._arrived: set[str] = set()
        self.live: list[str] = [replica]
        self.started_at = datetime.now(UTC)

    @property
    def parked(self) -> int:
        return len(self._parked)

    # -- intake from the bus ------------------------------------------------------------------------------
    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        """The downlink consumer's handler: claim what is ours, park the rest."""
        now = datetime.now(UTC)
        mine: list[DownlinkRequest] = []
        expired: list[DownlinkRequest] = []
        for request in _unique(d.payload for d in deliveries):
            if request.expires_at is not None and request.expires_at <= now:
                expired.append(request)
            elif self._sessions.get(request.terminal) is not None:
                mine.append(request)
            else:
                self._park(request)
        claimed = await self._ledger.claim([(r.request_id, r.terminal) for r in (*mine, *expired)])
        for request in expired:
            if request.request_id in claimed:
                self._dispatcher.conclude_unsent(request, "rejected", "expired before it could be sent")
        for request in mine:
            if request.request_id in claimed:
                self._dispatcher.submit(request)

    def _park(self, request: DownlinkRequest) -> None:
        parked = Parked(request, time.monotonic() + self._grace)
        self._parked.append(parked)
        self._by_terminal.setdefault(request.terminal, []).append(parked)
        metrics.PARKED.set(len(self._parked))

    def terminal_arrived(self, terminal: str) -> None:
        """A terminal logged in here: its parked requests are ours (claimed by :meth:`run`)."""
        if terminal in self._by_terminal:
            self._arrived.add(terminal)

    # -- the routing worker -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, tick_s: float = 0.1) -> None:
        next_beat = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_beat:
                    await self.beat()
                    next_beat = time.monotonic() + self._replica_settings.heartbeat_s
                await self._take_arrivals()
                await self._expire_parked()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("routing step failed; retrying", error=repr(exc))
            await asyncio.sleep(tick_s)

    async def beat(self) -> None:
        await replica_repo.beat(self._pool, self._schema, self.replica, self.started_at,
                                sessions=len(self._sessions), connections=self._count_links())
        live = await replica_repo.live(self._pool, self._schema, self._replica_settings.dead_after_s)
        self.live = sorted(set(live) | {self.replica})
        metrics.REPLICAS.set(len(self.live))
        await self._conclude_orphans()

    async def _conclude_orphans(self) -> None:
        """Requests claimed by a replica that died: whichever live replica sees them first answers them."""
        orphans = await self._ledger.abandon_of_dead(self.live, self._replica_settings.dead_after_s)
        for request_id, terminal, holder, _attempts in orphans:
            request = DownlinkRequest(request_id=request_id, terminal=terminal, afn=0, units=[],
                                      requested_by="fep-recovery")
            self._dispatcher.conclude_unsent(
                request, "timed_out", f"FEP replica {holder} stopped before concluding the request")

    async def _take_arrivals(self) -> None:
        if not self._arrived:
            return
        arrived, self._arrived = self._arrived, set()
        taken: list[DownlinkRequest] = []
        for terminal in arrived:
            if self._sessions.get(terminal) is None:
                continue
            for parked in self._by_terminal.pop(terminal, []):
                parked.due = -1.0  # removed from the deque lazily
                taken.append(parked.request)
        claimed = await self._ledger.claim([(r.request_id, r.terminal) for r in taken])
        for request in taken:
            if request.request_id in claimed:
                self._dispatcher.submit(request)

    async def _expire_parked(self) -> None:
        now = time.monotonic()
        due: list[Parked] = []
        while self._parked and (self._parked[0].due <= now or len(self._parked) > self._max_parked):
            parked = self._parked.popleft()
            if parked.due >= 0:
                due.append(parked)
        metrics.PARKED.set(len(self._parked))
        if not due:
            return
        first = [p for p in due if not p.last_try]
        last = [p for p in due if p.last_try]
        answer = [p for p in last if self._unpark(p)]
        answer += await self._first_look(first)
        claimed = await self._ledger.claim([(p.request.request_id, p.request.terminal) for p in answer])
        for p in answer:
            if p.request.request_id in claimed:
                self._dispatcher.conclude_unsent(p.request, "offline", self._unreachable(p.request.terminal)
                                                 or "no FEP replica holds the terminal")

    async def _first_look(self, due: list[Parked]) -> list[Parked]:
        """Grace over: drop requests of terminals online elsewhere; answer if preferred; else wait the slack."""
        if not due:
            return []
        recorded = await holders(self._pool, self._schema, sorted({p.request.terminal for p in due}))
        answer: list[Parked] = []
        for p in due:
            terminal = p.request.terminal
            if self._sessions.get(terminal) is not None:
                self._unpark(p)
                self._dispatcher_take(p)
                continue
            state, holder = recorded.get(terminal, ("offline", ""))
            if state == "online" and holder != self.replica and holder in self.live:
                self._unpark(p)  # the holder has it (it consumed the request too)
            elif self._preferred(terminal, holder) == self.replica:
                self._unpark(p)
                answer.append(p)
            else:
                p.last_try, p.due = True, time.monotonic() + self._slack
                self._parked.append(p)
        return answer

    def _dispatcher_take(self, parked: Parked) -> None:
        self._by_terminal.setdefault(parked.request.terminal, []).append(parked)
        self._arrived.add(parked.request.terminal)
        parked.due = -1.0

    def _preferred(self, terminal: str, last_holder: str) -> str:
        return last_holder if last_holder in self.live else rendezvous_owner(terminal, self.live)

    def _unpark(self, parked: Parked) -> bool:
        siblings = self._by_terminal.get(parked.request.terminal)
        if siblings is None or parked not in siblings:
            return False
        siblings.remove(parked)
        if not siblings:
            del self._by_terminal[parked.request.terminal]
        return True

    async def leave(self) -> None:
        await replica_repo.leave(self._pool, self._schema, self.replica)


def _unique(requests: Iterable[DownlinkRequest]) -> list[DownlinkRequest]:
    seen: dict[str, DownlinkRequest] = {}
    for r in requests:
        seen.setdefault(r.request_id, r)
    return list(seen.values())
