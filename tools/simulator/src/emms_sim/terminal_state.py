"""One concentrator's own state: address, clock, measurement-point table, event log, settings.

The meters' values come from the truth; what lives here is what the master can
change (the F10 table, the clock, active reporting, the heartbeat period) and
what the terminal accumulates (its event records and EC1/EC2 counters).
Protection (保电, AFN05 F25 / F33) lives in the truth's ledger, with its expiry,
so the truth API of any process shows it. ``password`` is the PW the terminal
expects on AFN 01 / 04 / 05 / 06 / 0F / 10: the fleet's (``Fleet.password``: its own from the seed,
or 16 zero bytes) until the master changes it with AFN04 F5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from emms_protocol.gdw1376 import Address
from emms_protocol.gdw1376.afn0e import EventRecord
from emms_protocol.gdw1376.afn04_0a import UplinkCommParams
from emms_sim.fleet import MeterSpec
from emms_sim.manifest import PORT_OF_PROTOCOL
from emms_sim.meter_side import MeterBus
from emms_sim.truth import GroundTruth

#: AFN04 F10 protocol codes: 30 = DL/T 645-2007 (the standard's); CJ/T 188 has no code in the 2013 base
#: standard — 32 is the simulator's choice (UNVERIFIED regional code).
PROTOCOL_CODE = {"dlt645-2007": 30, "cjt188-2004": 32}
PROTOCOL_OF_CODE = {v: k for k, v in PROTOCOL_CODE.items()}
EVENT_LOG_SIZE = 256
DEFAULT_PASSWORD = bytes(16)


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One F10 record as the terminal holds it."""

    serial: int
    pn: int
    port: int
    protocol: int
    address: str
    tariffs: int = 4


@dataclass(slots=True)
class EventLog:
    """A ring of up to 256 records; the counter is the pointer of the next record (mod 256).

    A list, not a ``deque(maxlen=256)``: an empty deque costs ~760 bytes, two
    per terminal are 1.5 KB of every concentrator of a 20,000 fleet.
    """

    records: list[EventRecord] = field(default_factory=list)
    counter: int = 0

    def add(self, record: EventRecord) -> None:
        self.records.append(record)
        if len(self.records) > EVENT_LOG_SIZE:
            del self.records[0]
        self.counter = (self.counter + 1) % 256

    def between(self, start: int, end: int) -> list[EventRecord]:
        """Records with pointers start … end−1 (mod 256) that are still held."""
        wanted = (end - start) % 256
        held = list(self.records)
        out = []
        for k in range(wanted):
            pointer = (start + k) % 256
            back = (self.counter - pointer - 1) % 256  # 0 = newest
            if back < len(held):
                out.append(held[len(held) - 1 - back])
        return out


class TerminalState:
    def __init__(self, truth: GroundTruth, index: int, *, heartbeat_s: float = 60.0, reporting: bool = False,
                 started_ts: float | None = None) -> None:
        self.truth = truth
        self.index = index
        self.spec = truth.fleet.terminal(index)
        self.address = Address(self.spec.area, self.spec.terminal)
        self.bus = MeterBus(truth, index)
        self.heartbeat_s = heartbeat_s
        self.reporting = reporting
        self.important = EventLog()
        self.normal = EventLog()
        self.overrides: dict[int, TableEntry | None] = {}
        self.clock_synced_at: float | None = None
        self.events_scanned_to = started_ts if started_ts is not None else datetime.now(tz=UTC).timestamp()
        self.password = truth.fleet.password(index)
        self.params: dict[int, object] = {}  # other AFN04 parameters, echoed by AFN0A
        self.important_seen = 0  # EC1 the master has read up to (ACD is set while they differ)
        self.clock_sync_offset = 0.0
        self.resets: dict[str, int] = {}  # AFN01 Fn → how often the master reset the terminal so

    # ---- protection (保电) --------------------------------------------------------------------
    def protected(self, ts: float) -> bool:
        """Whether AFN05 F25 protection is in force at ``ts`` (it expires by itself after its duration)."""
        return self.truth.ledger.protected(self.address.key, ts)

    # ---- clock -------------------------------------------------------------------------------
    def clock_offset(self, ts: float) -> float:
        """Terminal clock minus true time: drifts from the monthly sync or the master's last time sync."""
        since, base = self.truth.schedule.month_start(ts), 0.0
        if self.clock_synced_at is not None and since <= self.clock_synced_at <= ts:
            since, base = self.clock_synced_at, self.clock_sync_offset
        return base + self.spec.drift_ppm * 1e-6 * (ts - since)

    def clock(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts + self.clock_offset(ts), tz=UTC)

    def set_clock(self, wall: datetime, ts: float) -> None:
        """AFN05 F31: the master's time becomes ours; the drift restarts from there."""
        self.clock_synced_at = ts
        self.clock_sync_offset = wall.timestamp() - ts

    @property
    def acd(self) -> tuple[int, int] | None:
        """EC to send with ACD=1 while important events are unread by the master."""
        return self.ec if self.important.counter != self.important_seen else None

    @property
    def ec(self) -> tuple[int, int]:
        return self.important.counter, self.normal.counter

    # ---- measurement points ----------------------------------------------------------------
    def _default(self, meter: MeterSpec, ts: float) -> TableEntry:
        return TableEntry(meter.pn, meter.pn, PORT_OF_PROTOCOL[meter.protocol], PROTOCOL_CODE[meter.protocol],
                          meter.address(meter.generation(ts)))

    def entry(self, pn: int, ts: float) -> TableEntry | None:
        if pn in self.overrides:
            return self.overrides[pn]
        meter = self.truth.fleet.meter(self.index, pn)
        if meter is None or not meter.present(ts):
            return None
        return self._default(meter, ts)

    def pns(self, ts: float) -> list[int]:
        base = [m.pn for m in self.truth.fleet.meters_of(self.index) if m.present(ts) and m.pn not in self.overrides]
        return sorted(base + [pn for pn, e in self.overrides.items() if e is not None])

    def meter_at(self, pn: int, ts: float) -> MeterSpec | None:
        """The physical meter a measurement point reads now (None: no such point, or nothing answers)."""
        entry = self.entry(pn, ts)
        if entry is None:
            return None
        return self.bus.by_address(entry.address, ts)

    def set_entry(self, entry: TableEntry) -> None:
        """AFN04 F10 record: pn 0 deletes the record with that serial number."""
        if entry.pn == 0:
            for pn, current in list(self.overrides.items()):
                if current is not None and current.serial == entry.serial:
                    self.overrides[pn] = None
            if entry.serial not in self.overrides:
                self.overrides[entry.serial] = None
            return
        self.overrides[entry.pn] = entry

    def entries(self, ts: float) -> list[TableEntry]:
        return [e for pn in self.pns(ts) if (e := self.entry(pn, ts)) is not None]

    def reset_params(self) -> None:
        self.overrides.clear()
        self.params.clear()
        self.clock_synced_at = None

    # ---- uplink communication parameters (AFN04 / 0A F1) ----------------------------------------------------
    def uplink(self) -> UplinkCommParams:
        """F1 as the terminal holds it: what the master (or a local change) set, else the factory values
        with the heartbeat period the terminal runs with."""
        held = self.params.get(1)
        if isinstance(held, UplinkCommParams):
            return held
        minutes = max(1, min(255, round(self.heartbeat_s / 60)))
        return UplinkCommParams(0, 0, 30, 3, False, False, True, minutes)

    def set_uplink(self, value: UplinkCommParams) -> None:
        """F1 set (by the master, or locally behind its back): kept whole, the heartbeat period follows."""
        self.params[1] = value
        self.heartbeat_s = max(60.0, value.heartbeat_min * 60.0)
