"""Request frames and scenarios whose answers are pinned byte for byte (``data/sim_answers_golden.json.gz``).

The golden file was recorded from the simulator *before* its answering path was
optimised (commit 996a6b0: caches, fast register paths, address lookup, one
encoding per unit): each case is a scenario (fleet config, field rates, master
commands already in the ledger, events already pulled), an instant and a
request frame; the recorded answer is every frame the concentrator sends back,
hex. Larger fleets and the truth itself (every item of every meter at instants
of every kind) are pinned as SHA-256 digests. The AFN0C F168 answers were
re-recorded once, when the tariff count M became A.8 (two bytes; same values,
one byte more per unit — checked by decoding the old answers with the one-byte
option). ``test_sim_answer_golden`` replays
them against the current code. Regenerate only for an intended change of what
goes on the wire or of the truth:

    .venv/bin/python tests/unit/simulator/sim_answer_cases.py --write
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emms_protocol import cjt188, dlt645
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, TimeLabel, decode_frame, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn10 import ForwardRequest, control_word
from emms_sim import answer_events
from emms_sim.answers import answer
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

GOLDEN = Path(__file__).resolve().parent / "data" / "sim_answers_golden.json.gz"
METER_TYPE = {"water": 0x10, "gas": 0x30, "heat": 0x20}
SERIAL_188 = control_word(2400, "even")
SERIAL_645 = control_word(2400, "even")
#: 645 DIs forwarded to electricity meters: energy blocks, one tariff, variables, clock, daily frozen, relay
DIS_645 = (0x0001FF00, 0x00010000, 0x00020300, 0x0000FF00, 0x0005FF00, 0x0201FF00, 0x0202FF00, 0x0203FF00,
           0x02060000, 0x02800002, 0x02800001, 0x04000101, 0x04000102, 0x04000503, 0x05060101, 0x05060201,
           0x05060003, 0x04000401, 0x0F0F0F0F)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    config: FleetConfig
    now: datetime
    terminals: tuple[int, ...]
    trips: tuple[tuple[int, int, float, bool], ...] = ()  # (terminal, pn, seconds before now, cut off)
    pull_events: bool = False  # pull the scheduled events first (answers carry ACD / EC)


def _busy_rates() -> FieldRates:
    """Field realities far more often than by default, so replaced / removed / added / rollover meters,
    outages and leaks all show up in a small fleet."""
    return replace(FieldRates(), outage_per_day=0.5, cover_open_per_day=0.05, valve_leak_per_day=0.3,
                   replaced_fraction=0.25, removed_fraction=0.1, rollover_fraction=0.15)


SCENARIOS = (
    # the collector benchmark's case: quiet field, shortly after local midnight, heating season
    Scenario("quiet-winter", FleetConfig(seed=1, concentrators=3, meters_per=40, rates=FieldRates.quiet()),
             datetime(2026, 11, 25, 0, 25, tzinfo=DEVICE_TZ), (0, 2)),
    # busy field in summer, mid-slot and mid-minute, a commanded trip / close history
    Scenario("busy-summer", FleetConfig(seed=7, concentrators=4, meters_per=36, rates=_busy_rates()),
             datetime(2026, 7, 2, 13, 37, 21, tzinfo=DEVICE_TZ), (1, 3),
             trips=((1, 3, 2 * 86400.0, True), (1, 3, 86400.0 + 3600.0, False), (1, 5, 7200.0, True),
                    (3, 4, 30 * 86400.0, True))),
    # busy field on the first of a month (settlement day = today), end of the heating season, events pulled
    Scenario("busy-month-start", FleetConfig(seed=23, concentrators=2, meters_per=48, rates=_busy_rates(),
                                             mix=(("electricity", 40.0), ("water", 20.0), ("gas", 20.0),
                                                  ("heat", 20.0))),
             datetime(2027, 3, 1, 0, 5, 30, tzinfo=DEVICE_TZ), (0, 1), pull_events=True),
    # default field rates, another time zone offset, a replacement window
    Scenario("default-offset", FleetConfig(seed=3, concentrators=2, meters_per=30, tz_offset_minutes=420),
             datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), (1,)),
)


#: larger fleets whose answers to the collector's daily mix (F161 by 64 points, F1 / F2 by 8, a 188 read per
#: water / gas / heat meter) are pinned as one SHA-256 per terminal: many meters, little fixture
DIGEST_SCENARIOS = (
    Scenario("digest-quiet", FleetConfig(seed=1, concentrators=6, meters_per=200, rates=FieldRates.quiet()),
             datetime(2026, 11, 25, 0, 25, tzinfo=DEVICE_TZ), tuple(range(6))),
    Scenario("digest-busy", FleetConfig(seed=5, concentrators=4, meters_per=200, rates=_busy_rates()),
             datetime(2026, 4, 9, 0, 31, 7, tzinfo=DEVICE_TZ), tuple(range(4)),
             trips=((2, 10, 86400.0, True), (2, 11, 7200.0, True), (2, 11, 3600.0, False)), pull_events=True),
)


def daily_mix(scenario: Scenario, truth: GroundTruth, state: TerminalState) -> Iterator[bytes]:
    """The collector's daily run for one terminal, as request frames."""
    now = scenario.now
    yesterday = truth.cal.local(now).date() - timedelta(days=1)
    meters = truth.fleet.meters_of(state.index)
    elec = [m.pn for m in meters if m.utility == "electricity"]
    master = _master(state)
    for n, (fn, size) in enumerate(((161, 64), (1, 8), (2, 8))):
        for i in range(0, len(elec), size):
            units = [DataUnit(pn, fn, yesterday) for pn in elec[i:i + size]]
            yield encode_frame(b.request(master, 0x0D, units, (i + n) & 15, tp=TimeLabel(i & 0xFF, now, 5)))
    for m in meters:
        if m.utility in METER_TYPE:
            fwd = ForwardRequest(2, SERIAL_188, 0x85, 10, cjt188.read_request(METER_TYPE[m.utility], m.address(0)))
            yield encode_frame(b.request(master, 0x10, [DataUnit(0, 1, fwd)], m.pn & 15,
                                         tp=TimeLabel(m.pn & 0xFF, now, 5)))


def digests(scenario: Scenario) -> dict[str, str]:
    """terminal index → SHA-256 over every request and answer frame of its daily mix."""
    truth, states = build(scenario)
    out = {}
    for index, state in states.items():
        h = hashlib.sha256()
        for raw in daily_mix(scenario, truth, state):
            h.update(raw)
            for frame in answers(raw, state, scenario.now):
                h.update(frame.encode())
        out[str(index)] = h.hexdigest()
    return out


#: readings (every item) pinned per meter: quiet and busy fields, instants at random, at local midnights, on
#: slot boundaries and around each meter's own install / replacement / removal / rollover instants
TRUTH_SCENARIOS = (
    Scenario("truth-busy", FleetConfig(seed=7, concentrators=3, meters_per=30, rates=_busy_rates()),
             datetime(2026, 11, 25, 4, 0, tzinfo=UTC), (0, 1, 2),
             trips=((0, 2, 3 * 86400.0, True), (0, 2, 86400.0, False), (1, 7, 40 * 86400.0, True))),
    Scenario("truth-default", FleetConfig(seed=2, concentrators=2, meters_per=40), datetime(2026, 2, 3, tzinfo=UTC),
             (0, 1)),
)


def truth_instants(scenario: Scenario, truth: GroundTruth, terminal: int, pn: int) -> list[float]:
    """The instants a meter's readings are pinned at (seeded: the same list in any process)."""
    meter = truth.fleet.meter(terminal, pn)
    assert meter is not None
    ts = scenario.now.timestamp()
    draw = random.Random(terminal * 10_000 + pn).random
    out = [ts, ts - 3600.0 * 7.5, ts + 86400.0 * 45]
    out += [truth.cal.origin_ts + (day + 800) * 86400.0 for day in (0, 31, 365, 611, 700)]  # local midnights
    out += [math.floor((ts - draw() * 86400.0 * 600) / 900.0) * 900.0 for _ in range(3)]  # slot boundaries
    out += [ts - draw() * 86400.0 * 900 for _ in range(6)]
    for own in (meter.installed_at, meter.replaced_at, meter.removed_at, meter.rollover_at):
        if own is not None:
            out += [own - 1.0, own, own + 0.5, own + 901.0]
    return out


def truth_digests(scenario: Scenario, order: int = 1) -> dict[str, str]:
    """meter id → SHA-256 over its readings (JSON, floats exact) at its instants; ``order`` -1 walks the
    meters and instants backwards (the values must not depend on what was computed before)."""
    truth, _ = build(scenario)
    out = {}
    for terminal in scenario.terminals[::order]:
        for pn in list(truth.fleet.pns(terminal))[::order]:
            meter = truth.fleet.meter(terminal, pn)
            assert meter is not None
            readings = {repr(at): truth.reading(meter.meter_id, datetime.fromtimestamp(at, tz=UTC))
                        for at in truth_instants(scenario, truth, terminal, pn)[::order]}
            text = json.dumps(readings, sort_keys=True)
            out[meter.meter_id] = hashlib.sha256(text.encode()).hexdigest()
    return out


def build(scenario: Scenario) -> tuple[GroundTruth, dict[int, TerminalState]]:
    truth = GroundTruth(scenario.config)
    ts = scenario.now.timestamp()
    for terminal, pn, before, cut in scenario.trips:
        meter = truth.fleet.meter(terminal, pn)
        assert meter is not None
        truth.ledger.set_cut_off(meter.meter_id, ts - before, cut)
    states = {i: TerminalState(truth, i, started_ts=ts - 3 * 86400.0) for i in scenario.terminals}
    if scenario.pull_events:
        for state in states.values():
            answer_events.pull_scheduled(state, ts)
    return truth, states


def _master(state: TerminalState) -> Address:
    return Address(state.address.area, state.address.terminal, master=1)


def requests(scenario: Scenario, truth: GroundTruth, state: TerminalState) -> Iterator[tuple[str, bytes]]:
    """(label, request frame) of every case of one terminal; labels are unique within a scenario."""
    now = scenario.now
    ts = now.timestamp()
    local = truth.cal.local(now).date()
    yesterday = local - timedelta(days=1)
    last_month = (local.replace(day=1) - timedelta(days=1)).replace(day=1)
    pns = [*truth.fleet.pns(state.index), truth.fleet.config.meters_per + 5]  # + a point that does not exist
    pfc = state.index * 37
    master = _master(state)

    def tp() -> TimeLabel:
        nonlocal pfc
        pfc += 1
        return TimeLabel(pfc & 0xFF, now, 5)

    k = f"t{state.index}"
    # AFN0D class 2: daily frozen data by 64 points (the collector's batching) and 8, several Fn, monthly
    for fn, tag, size in ((161, yesterday, 64), (1, yesterday, 8), (2, yesterday, 64), (161, local - timedelta(3), 8),
                          (177, last_month, 64), (17, last_month, 8), (18, last_month, 64), (161, local, 64)):
        for i in range(0, len(pns), size):
            units = [DataUnit(pn, fn, tag) for pn in pns[i:i + size]]
            yield f"{k}-0D-F{fn}-{tag}-{i}", encode_frame(b.request(master, 0x0D, units, pfc & 15, tp=tp()))
    mixed = [DataUnit(pn, fn, yesterday) for pn in pns[:9] for fn in (1, 2)]
    yield f"{k}-0D-F1F2-mixed", encode_frame(b.request(master, 0x0D, mixed, 3))
    # AFN0C class 1 (current) data, incl. the terminal clock
    for fn in (129, 33, 34, 25, 130, 167, 168):
        units = [DataUnit(pn, fn, None) for pn in pns]
        yield f"{k}-0C-F{fn}", encode_frame(b.request(master, 0x0C, units, pfc & 15, tp=tp()))
    yield f"{k}-0C-F2", encode_frame(b.request(master, 0x0C, [DataUnit(0, 2, None)], 9, tp=tp()))
    # AFN10 F1 forwarding: a CJ/T 188 read to every water / gas / heat meter (its current and first address),
    # DL/T 645 reads to a few electricity meters
    elec = 0
    for meter in truth.fleet.meters_of(state.index):
        addresses = {meter.address(meter.generation(ts)), meter.address(0)}
        for address in sorted(addresses):
            if meter.utility in METER_TYPE:
                inner = cjt188.read_request(METER_TYPE[meter.utility], address, seq=meter.pn & 0xFF)
                fwd = ForwardRequest(2, SERIAL_188, 0x85, 10, inner)
                yield (f"{k}-10-188-{meter.pn}-{address}",
                       encode_frame(b.request(master, 0x10, [DataUnit(0, 1, fwd)], pfc & 15, tp=tp())))
            elif elec < 3:
                for di in DIS_645:
                    fwd = ForwardRequest(31, SERIAL_645, 0x85, 10, dlt645.read_request(address, di, preamble=4))
                    yield (f"{k}-10-645-{meter.pn}-{address}-{di:08X}",
                           encode_frame(b.request(master, 0x10, [DataUnit(0, 1, fwd)], pfc & 15, tp=tp())))
        if meter.utility == "electricity":
            elec += 1
    unknown = ForwardRequest(2, SERIAL_188, 0x85, 10, cjt188.read_request(0x10, "99999999999999"))
    yield f"{k}-10-unknown", encode_frame(b.request(master, 0x10, [DataUnit(0, 1, unknown)], 1, tp=tp()))


def answers(raw: bytes, state: TerminalState, now: datetime) -> list[str]:
    """The answer frames, hex; an answer that cannot be encoded is pinned as its error (e.g. a three-phase
    meter's power beyond A.9's ±79.9999 kW in F25: the session then drops the link)."""
    request = decode_frame(raw, reference=now)
    try:
        return [encode_frame(frame).hex() for frame in answer(state, request, now.timestamp()).frames]
    except ProtocolError as exc:
        return [f"error: {exc}"]


def load() -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    return recorded


def record() -> dict[str, Any]:
    """{scenario: {label: {"request": hex, "answers": [hex, …]}}, "digests": {scenario: {terminal: sha256}},
    "truth": {scenario: {meter: sha256}}} from the code as it is now."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for scenario in SCENARIOS:
        truth, states = build(scenario)
        cases: dict[str, dict[str, object]] = {}
        for state in states.values():
            for label, raw in requests(scenario, truth, state):
                assert label not in cases, label
                cases[label] = {"request": raw.hex(), "answers": answers(raw, state, scenario.now)}
        out[scenario.name] = cases
    return {**out, "digests": {scenario.name: digests(scenario) for scenario in DIGEST_SCENARIOS},
            "truth": {scenario.name: truth_digests(scenario) for scenario in TRUTH_SCENARIOS}}


if __name__ == "__main__":
    if "--write" not in sys.argv:
        raise SystemExit("usage: sim_answer_cases.py --write   (records the answers of the code as it is now)")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_bytes(gzip.compress((json.dumps(record(), indent=0, sort_keys=True) + "\n").encode(), 9, mtime=0))
    sys.stdout.write(f"wrote {GOLDEN} ({GOLDEN.stat().st_size:,} bytes)\n")
