"""CPU the simulator spends answering the collector's daily run, per request and per meter, in-process.

The fleet is built by the simulator's own code (``FleetRunner`` over a
``GroundTruth``, ``--quiet-field`` rates and the default utility mix, like
the collector benchmark), and fed the request frames the collector sends for a
daily frozen-data run, encoded the way the FEP encodes them (MSA 1, Tp with a
5-minute delay, zero PW on AFN 10): AFN0D F161 (the route of the electricity
default items) with yesterday's Td_d for up to 64 points a frame (the bench's
``MAX_POINTS_PER_REQUEST``), and one AFN10 F1 forward of a CJ/T 188 901F read
per water / gas / heat meter. Each request is what a concentrator does per
frame minus the socket: ``decode_frame`` → ``answer`` → ``encode_frame`` of
every reply frame, at a fixed instant (25 Nov 2026 00:25 local), so runs are
reproducible.

* **cold** — a fresh truth, every meter asked once (a daily run: nothing cached
  for these meters yet); best of ``REPEATS`` fresh fleets;
* **warm** — the same requests again on the same truth (retries, re-reads).

Figures are CPU seconds of this process (``time.process_time``).

    .venv/bin/python tools/bench/bench_sim_answers.py [--profile]
    .venv/bin/python tools/bench/run.py sim_answers

Env (prefix ``EMMS_BENCH_SIM_ANSWERS_``): ``CONCENTRATORS`` (50), ``METERS_PER`` (200), ``SEED`` (1),
``REPEATS`` (3).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from emms_protocol import cjt188
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, TimeLabel, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest, control_word
from emms_sim.answers import answer
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.fleet_runner import FleetRunner
from emms_sim.session import SessionConfig
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

NOW = datetime(2026, 11, 25, 0, 25, tzinfo=DEVICE_TZ)  # the collector's daily run starts at 00:20 local
MAX_POINTS = 64  # EMMS_COLLECTOR_DISPATCH__MAX_POINTS_PER_REQUEST of bench_collector
DAILY_FN = 161  # AFN0D F161: the collector's route for the electricity default items (import total + 4 rates)
METER_TYPE_188 = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}
SERIAL_188 = control_word(2400, "even")  # the collector planner's forwarding settings
FRAME_TIMEOUT = 0x80 | 5
BYTE_TIMEOUT = 10
PW = bytes(16)
#: CPU per request of the code before this benchmark's optimisation (same command, this machine), for the targets
BEFORE_MS_PER_REQUEST = 3.00


@dataclass(frozen=True, slots=True)
class Request:
    kind: str  # "F161" or "188"
    state: TerminalState
    raw: bytes
    meters: int  # meters the request asks about


def fleet(concentrators: int, meters_per: int, seed: int) -> list[TerminalState]:
    """The concentrators of a fleet as ``emms-sim run --quiet-field`` builds them (no sockets)."""
    truth = GroundTruth(FleetConfig(seed=seed, concentrators=concentrators, meters_per=meters_per,
                                    rates=FieldRates.quiet()))
    runner = FleetRunner(truth, SessionConfig("127.0.0.1", 9), heartbeat_s=30.0)
    return [session.state for session in runner.sessions]


def daily_run(states: list[TerminalState], yesterday: date) -> list[Request]:
    """The collector's requests of a daily frozen-data run, per terminal: F161 batches, then one forward per
    CJ/T 188 meter (the FEP's encoding: MSA 1, Tp, PW on AFN 10)."""
    out: list[Request] = []
    pfc = 0

    def tp() -> TimeLabel:
        nonlocal pfc
        pfc += 1
        return TimeLabel(pfc & 0xFF, NOW, 5)

    for state in states:
        master = Address(state.address.area, state.address.terminal, master=1)
        meters = [m for m in state.truth.fleet.meters_of(state.index) if m.present(NOW.timestamp())]
        electricity = [m.pn for m in meters if m.utility == "electricity"]
        for i in range(0, len(electricity), MAX_POINTS):
            group = electricity[i:i + MAX_POINTS]
            frame = b.request(master, 0x0D, [DataUnit(pn, DAILY_FN, yesterday) for pn in group], pfc & 15, tp=tp())
            out.append(Request("F161", state, encode_frame(frame), len(group)))
        for m in meters:
            if m.utility in METER_TYPE_188:
                payload = cjt188.read_request(METER_TYPE_188[m.utility], m.address(m.generation(NOW.timestamp())))
                fwd = ForwardRequest(2, SERIAL_188, FRAME_TIMEOUT, BYTE_TIMEOUT, payload)
                frame = b.request(master, 0x10, [DataUnit(0, 1, fwd)], pfc & 15, pw=PW, tp=tp())
                out.append(Request("188", state, encode_frame(frame), 1))
    return out


def serve(requests: list[Request]) -> tuple[dict[str, float], list[list[bytes]]]:
    """Answer every request as a concentrator does per frame; CPU seconds per request kind, and the replies."""
    ts = NOW.timestamp()
    spent = {"F161": 0.0, "188": 0.0}
    replies: list[list[bytes]] = []
    clock = time.process_time
    for request in requests:
        started = clock()
        frame = decode_frame(request.raw, reference=NOW)
        out = [encode_frame(reply) for reply in answer(request.state, frame, ts).frames]
        spent[request.kind] += clock() - started
        replies.append(out)
    return spent, replies


def answered_meters(replies: list[list[bytes]]) -> int:
    """Meters whose values came back (F161 units, forwards with a meter reply) — the run did real work."""
    count = 0
    for frames in replies:
        for raw in frames:
            frame = decode_frame(raw, reference=NOW)
            if frame.afn == 0x0D:
                count += len(decode_units(frame))
            elif frame.afn == 0x10:
                count += sum(1 for u in decode_units(frame) if isinstance(u.value, ForwardReply) and u.value.payload)
    return count


def _serve(requests: list[Request], wrap: Callable[[Callable[[], object]], object] | None
           ) -> tuple[dict[str, float], list[list[bytes]]]:
    if wrap is None:
        return serve(requests)
    box: list[tuple[dict[str, float], list[list[bytes]]]] = []
    wrap(lambda: box.append(serve(requests)))
    return box[0]


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"EMMS_BENCH_SIM_ANSWERS_{name}", str(default)))


def measure(concentrators: int, meters_per: int, seed: int, repeats: int,
            wrap: Callable[[Callable[[], object]], object] | None = None) -> dict[str, object]:
    yesterday = NOW.date() - timedelta(days=1)
    cold: dict[str, float] | None = None
    replies: list[list[bytes]] = []
    requests: list[Request] = []
    for _ in range(max(1, repeats)):
        requests = daily_run(fleet(concentrators, meters_per, seed), yesterday)
        spent, replies = _serve(requests, wrap)
        if cold is None or sum(spent.values()) < sum(cold.values()):
            cold = spent
    assert cold is not None
    warm, again = serve(requests)
    if again != replies:
        raise AssertionError("the warm pass answered differently from the cold one")
    kinds = {k: sum(1 for r in requests if r.kind == k) for k in ("F161", "188")}
    meters = {k: sum(r.meters for r in requests if r.kind == k) for k in ("F161", "188")}
    return {"cold": cold, "warm": warm, "requests": kinds, "meters": meters,
            "answered": answered_meters(replies), "frames": sum(len(r) for r in replies)}


def rows(result: dict[str, object], concentrators: int, meters_per: int) -> list[dict[str, object]]:
    cold: dict[str, float] = result["cold"]  # type: ignore[assignment]
    warm: dict[str, float] = result["warm"]  # type: ignore[assignment]
    kinds: dict[str, int] = result["requests"]  # type: ignore[assignment]
    meters: dict[str, int] = result["meters"]  # type: ignore[assignment]
    n_requests = sum(kinds.values())
    n_meters = sum(meters.values())
    fleet_note = (f"{concentrators} × {meters_per} meters, quiet field, default mix; {n_requests:,} requests "
                  f"({kinds['F161']:,} F161 × ≤{MAX_POINTS} points, {kinds['188']:,} AFN10 188 reads), "
                  f"{result['answered']:,} meters answered")
    bench = "sim_answers"

    def per(spent: float, count: int, scale: float) -> float:
        return spent / count * scale if count else float("nan")

    return [
        {"benchmark": bench, "metric": "cold: CPU per request (daily mix)",
         "value": per(sum(cold.values()), n_requests, 1e3), "unit": "ms",
         "target": f"≤ {BEFORE_MS_PER_REQUEST / 3:.2f} (⅓ of {BEFORE_MS_PER_REQUEST} before)", "note": fleet_note},
        {"benchmark": bench, "metric": "cold: CPU per answered meter", "value": per(sum(cold.values()), n_meters, 1e6),
         "unit": "µs", "target": "", "note": f"{sum(cold.values()):.2f} CPU s for {n_meters:,} meters"},
        {"benchmark": bench, "metric": f"cold: CPU per AFN0D F161 request (≤{MAX_POINTS} points)",
         "value": per(cold["F161"], kinds["F161"], 1e3), "unit": "ms", "target": "",
         "note": f"{per(cold['F161'], meters['F161'], 1e6):.0f} µs per electricity meter"},
        {"benchmark": bench, "metric": "cold: CPU per AFN10 CJ/T 188 read",
         "value": per(cold["188"], kinds["188"], 1e3), "unit": "ms", "target": "",
         "note": "water / gas / heat, one meter each"},
        {"benchmark": bench, "metric": "warm: CPU per request (same requests again)",
         "value": per(sum(warm.values()), n_requests, 1e3), "unit": "ms", "target": "",
         "note": f"F161 {per(warm['F161'], kinds['F161'], 1e3):.3f} ms, "
                 f"188 {per(warm['188'], kinds['188'], 1e3):.3f} ms"},
    ]


def run() -> list[dict[str, object]]:
    concentrators, meters_per = _env("CONCENTRATORS", 50), _env("METERS_PER", 200)
    result = measure(concentrators, meters_per, _env("SEED", 1), _env("REPEATS", 3))
    return rows(result, concentrators, meters_per)


def _profile() -> None:
    """One cold pass under cProfile: where the CPU goes."""
    profiler = cProfile.Profile()
    concentrators, meters_per = _env("CONCENTRATORS", 50), _env("METERS_PER", 200)
    measure(concentrators, meters_per, _env("SEED", 1), 1, wrap=lambda fn: profiler.runcall(fn))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    if "--profile" in sys.argv:
        _profile()
    else:
        for row in run():
            sys.stdout.write(f"{row['metric']:<50} {row['value']:>10.3f} {row['unit']:<3} {row['target']}  "
                             f"{row['note']}\n")
