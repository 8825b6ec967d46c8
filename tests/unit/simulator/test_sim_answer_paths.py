"""The fast answering paths compute bit for bit what the slow, straightforward ones computed.

Registers are truncated to 0.01 on the wire, so a byte-for-byte answer test
alone would miss a last-bit difference that flips a hundredth only somewhere in
a large fleet. These tests compare raw floats with ``==`` against reference
implementations kept here: the original closed-form day sums, the original
whole-day build (every draw, every channel's 97 fractions), the full reading,
the linear address scan, and sizing-then-encoding of answers.
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, RawData, TimeLabel, encode_units, formats
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_sim.answer_data import ENERGY_REGISTERS, energy_value
from emms_sim.answers import encode_groups, respond, split_units
from emms_sim.calendar import SLOT_S, SLOTS_PER_DAY, weekday
from emms_sim.channels import channel_names, channels_for, shape_of
from emms_sim.controls import ControlLedger
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.hashing import TAG_DAY, TAG_METER, TAG_NOISE, draws, rng, unit
from emms_sim.meter_side import MeterBus
from emms_sim.series import HeatingSeries, PeriodicSeries, cos_sum
from emms_sim.shapes import (
    HEAT_ENERGY_PROFILE,
    JAN_15,
    OMEGA,
    PV_EXPORT,
    PV_SLOTS,
    TARIFF_OF_SLOT,
    TARIFFS,
    tariff_share,
)
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

BUSY = replace(FieldRates(), outage_per_day=0.5, valve_leak_per_day=0.3, replaced_fraction=0.25,
               removed_fraction=0.1, rollover_fraction=0.15)
CONFIG = FleetConfig(seed=13, concentrators=3, meters_per=40, rates=BUSY)
SPAN = (datetime(2023, 6, 1, tzinfo=UTC).timestamp(), datetime(2027, 6, 1, tzinfo=UTC).timestamp())
ENERGY_PREFIXES = ("energy.active.import", "energy.active.export", "energy.reactive.import",
                   "energy.reactive.export", "energy.reactive.q1", "energy.reactive.q2", "energy.reactive.q3",
                   "energy.reactive.q4")


# ---- reference implementations (the code before the answering path was made fast) -------------------------

def reference_mean_sum(series: PeriodicSeries | HeatingSeries, d0: int, d1: int) -> float:
    if d1 <= d0:
        return 0.0
    total = 0.0
    if isinstance(series, HeatingSeries):
        origin = date(2020, 1, 1).toordinal()
        for year in range(date.fromordinal(origin + d0).year - 1, date.fromordinal(origin + d1).year + 1):
            lo = max(d0, date(year, 11, 15).toordinal() - origin)
            hi = min(d1, date(year + 1, 3, 15).toordinal() - origin)
            if lo < hi:
                total += series.base * (hi - lo) + series.amp * cos_sum(OMEGA * (lo - JAN_15), OMEGA, hi - lo)
        return series.scale * total
    for r in range(7):
        c = series.coeffs[weekday(r)]
        if c == 0.0:
            continue
        j0, j1 = -((r - d0) // 7), -((r - d1) // 7)
        n = j1 - j0
        if n <= 0:
            continue
        s = float(n)
        for h, a, p in series.harmonics:
            beta = 7.0 * h * OMEGA
            s += a * cos_sum(h * OMEGA * (r - p) + beta * j0, beta, n)
        total += c * s
    return series.scale * total


def reference_day(truth: GroundTruth, meter: MeterSpec, day: int) -> tuple[dict[str, tuple[float, float, array[float]]],
                                                                           list[float], list[list[float]]]:
    """The whole meter-day as it was built at once: channels (start, total, 97 fractions), misc, voltages."""
    draw = rng(meter.key, TAG_DAY, day).random
    n_load, n_q, n_misc = ([draw() for _ in range(SLOTS_PER_DAY)] for _ in range(3))
    volt = [[draw() for _ in range(SLOTS_PER_DAY)] for _ in range(3)] if meter.utility == "electricity" else []
    base: dict[str, list[float]] = {}
    if meter.utility == "heat":
        base["heat"] = [HEAT_ENERGY_PROFILE[i] * (0.85 + 0.3 * n_load[i]) for i in range(SLOTS_PER_DAY)]
        base["flow"] = [0.95 + 0.1 * n_q[i] for i in range(SLOTS_PER_DAY)]
    elif meter.utility != "electricity":
        profile = shape_of(meter).profile(weekday(day))
        base["load"] = [profile[i] * (0.3 + 1.4 * n_load[i]) for i in range(SLOTS_PER_DAY)]
    else:
        profile = shape_of(meter).profile(weekday(day))
        dead: set[int] = set()
        window = truth.schedule.outage(meter.terminal_index, day)
        if window is not None:
            dead.update(range(int(window[0] // SLOT_S), int(window[1] // SLOT_S)))
        no_import = dead | (set(PV_SLOTS) if meter.has_pv else set())
        base["load"] = [0.0 if i in no_import else profile[i] * (0.5 + n_load[i]) for i in range(SLOTS_PER_DAY)]
        base["q"] = [w * (0.8 + 0.4 * n_q[i]) for i, w in enumerate(base["load"])]
        pv = PV_EXPORT.weekday_profile
        base["pv"] = [pv[i] * (0.7 + 0.6 * n_misc[i]) if i in PV_SLOTS and i not in dead else 0.0
                      for i in range(SLOTS_PER_DAY)]

    def noise(ch_gated: bool, series: PeriodicSeries | HeatingSeries, tag: int, d: int) -> float:
        if ch_gated and not (series.active(d) and series.active(d - 1)):
            return 0.0
        return unit(meter.key, TAG_NOISE, tag, d)

    channels = {}
    for ch in channels_for(meter):
        g0, gd, gn = (noise(ch.gated, ch.series, ch.tag, d) for d in (0, day, day + 1))
        start = reference_mean_sum(ch.series, 0, day) + ch.noise * (gd - g0)
        total = ch.series.mean(day) + ch.noise * (gn - gd)
        src = base[ch.weights]
        w = [src[i] if ch.tariff == 0 or TARIFF_OF_SLOT[i] == ch.tariff else 0.0 for i in range(SLOTS_PER_DAY)]
        weight_sum = sum(w)
        if weight_sum <= 0.0:
            w = [1.0 if ch.tariff == 0 or TARIFF_OF_SLOT[i] == ch.tariff else 0.0 for i in range(SLOTS_PER_DAY)]
            weight_sum = sum(w)
        prefix = array("d", [0.0] * (SLOTS_PER_DAY + 1))
        acc = 0.0
        for i in range(SLOTS_PER_DAY):
            acc += w[i]
            prefix[i + 1] = acc / weight_sum
        prefix[SLOTS_PER_DAY] = 1.0
        channels[ch.name] = (start, max(total, 0.0), prefix)
    return channels, n_misc, volt


def reference_raw(truth: GroundTruth, meter: MeterSpec, name: str, ts: float) -> float:
    day, sec = truth.cal.position_ts(ts)
    slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
    frac = (sec - slot * SLOT_S) / SLOT_S
    start, total, prefix = reference_day(truth, meter, day)[0][name]
    return float(start + total * (prefix[slot] + (prefix[slot + 1] - prefix[slot]) * frac))


def reference_initial(truth: GroundTruth, meter: MeterSpec, name: str) -> float:
    terms = truth.model.sources(meter)[name]
    if meter.rollover_at is not None and meter.rollover_at > meter.installed_at:
        at, inst = meter.rollover_at, meter.installed_at
        run = sum(f * (reference_raw(truth, meter, ch, at) - reference_raw(truth, meter, ch, inst)) for ch, f in terms)
        return (1_000_000.0 - run) % 1_000_000.0 if terms else 0.0
    day, _ = truth.cal.position_ts(meter.installed_at)
    total = 0.0
    for ch, f in terms:
        channel = next(c for c in channels_for(meter) if c.name == ch)
        total += f * unit(meter.key, TAG_METER, 30, channel.tag) * reference_mean_sum(channel.series, day - 400, day)
    return total


def reference_split(afn: int, units: list[DataUnit], limit: int) -> list[list[DataUnit]]:
    groups: list[list[DataUnit]] = [[]]
    size = 0
    for one in units:
        n = len(encode_units(afn, 1, [one]))
        if groups[-1] and size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(one)
        size += n
    return groups


# ---- helpers ------------------------------------------------------------------------------------------------

def _meter(truth: GroundTruth, terminal: int, pn: int) -> MeterSpec:
    meter = truth.fleet.meter(terminal, pn)
    assert meter is not None
    return meter


def _instant(kind: int, offset: float, meter: MeterSpec, truth: GroundTruth) -> float:
    """An instant of one kind: anywhere, a local midnight, a slot boundary, or near the meter's own events."""
    ts = SPAN[0] + offset * (SPAN[1] - SPAN[0])
    if kind == 1:
        return truth.cal.origin_ts + math.floor((ts - truth.cal.origin_ts) / 86400.0) * 86400.0
    if kind == 2:
        return math.floor(ts / SLOT_S) * SLOT_S
    if kind == 3:
        own = [t for t in (meter.installed_at, meter.replaced_at, meter.removed_at, meter.rollover_at) if t]
        return own[int(offset * len(own)) % len(own)] + (offset * 7200.0 - 3600.0)
    return ts


meters = st.tuples(st.integers(0, CONFIG.concentrators - 1), st.integers(1, CONFIG.meters_per + 1))
instants = st.tuples(st.integers(0, 3), st.floats(0.0, 1.0))


# ---- the truth --------------------------------------------------------------------------------------------

def _kind(meter: MeterSpec) -> str:
    if meter.utility != "electricity":
        return meter.utility
    return "commercial-pv" if meter.has_pv else meter.kind


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["residential-1p", "commercial-3p", "commercial-pv", "water", "gas", "heat"]),
       st.integers(-800, 3000), st.integers(-10, 1500), st.floats(0.1, 700.0))
def test_day_sums_are_the_closed_form_of_before(kind: str, d0: int, length: int, scale: float) -> None:
    truth = GroundTruth(CONFIG)
    candidates = [m for t in range(CONFIG.concentrators) for m in truth.fleet.meters_of(t) if _kind(m) == kind]
    assert candidates
    for meter in candidates[:3]:
        for ch in channels_for(meter):
            series = replace(ch.series, scale=scale)
            assert series.mean_sum(d0, d0 + length) == reference_mean_sum(series, d0, d0 + length)
            assert ch.series.mean_sum(d0, d0 + length) == reference_mean_sum(ch.series, d0, d0 + length)


def test_channel_coefficients_are_the_tariff_shares_of_the_shapes() -> None:
    truth = GroundTruth(CONFIG)
    for t in range(CONFIG.concentrators):
        for meter in truth.fleet.meters_of(t):
            chans = channels_for(meter)
            assert tuple(c.name for c in chans) == channel_names(meter)
            if meter.utility != "electricity":
                continue
            shape, excluded = shape_of(meter), (PV_SLOTS if meter.has_pv else frozenset())
            for k in range(1, TARIFFS + 1):
                imp = next(c for c in chans if c.name == f"imp{k}").series
                assert isinstance(imp, PeriodicSeries)
                assert imp.coeffs == tuple(shape.week_factors[wd] * tariff_share(shape.profile(wd), k, excluded)
                                           for wd in range(7))
                if meter.has_pv:
                    exp = next(c for c in chans if c.name == f"exp{k}").series
                    assert isinstance(exp, PeriodicSeries)
                    assert exp.coeffs == (tariff_share(PV_EXPORT.weekday_profile, k),) * 7


@settings(max_examples=150, deadline=None)
@given(meters, instants, st.booleans())
def test_raw_values_and_rates_are_those_of_the_whole_day(where: tuple[int, int], when: tuple[int, float],
                                                          once_first: bool) -> None:
    truth = GroundTruth(CONFIG)
    meter = _meter(truth, *where)
    ts = _instant(*when, meter, truth)
    regs = truth.model.regs
    for name in channel_names(meter):
        expected = reference_raw(truth, meter, name, ts)
        first, second = (regs.raw_once, regs.raw) if once_first else (regs.raw, regs.raw_once)
        assert first(meter, name, ts) == expected
        assert second(meter, name, ts) == expected
        assert regs.raw(meter, name, ts) == expected
    day, sec = truth.cal.position_ts(ts)
    slot = min(int(sec // SLOT_S), SLOTS_PER_DAY - 1)
    channels, misc, volt = reference_day(truth, meter, day)
    state = regs.day(meter, day)
    assert state.misc == misc and state.volt == volt
    for name, (_, total, prefix) in channels.items():
        assert regs.rate(meter, name, ts) == float(total * (prefix[slot + 1] - prefix[slot]) * (3600.0 / SLOT_S))


@settings(max_examples=60, deadline=None)
@given(meters)
def test_initial_registers_are_those_of_before(where: tuple[int, int]) -> None:
    truth = GroundTruth(CONFIG)
    meter = _meter(truth, *where)
    for name in truth.model.sources(meter):
        assert truth.model._init(meter, name, truth.model.sources(meter)[name]) == \
            reference_initial(truth, meter, name)


@settings(max_examples=80, deadline=None)
@given(meters, instants, st.lists(st.sampled_from(ENERGY_PREFIXES), min_size=1, max_size=3, unique=True),
       st.lists(st.tuples(st.floats(0.0, 1.0), st.booleans()), max_size=4))
def test_energy_registers_alone_equal_those_of_the_full_reading(
        where: tuple[int, int], when: tuple[int, float], prefixes: list[str],
        switches: list[tuple[float, bool]]) -> None:
    truth = GroundTruth(CONFIG, ControlLedger())
    meter = _meter(truth, *where)
    if meter.utility != "electricity":
        return
    ts = _instant(*when, meter, truth)
    for at, cut in switches:  # trips and closes in the month before
        truth.ledger.set_cut_off(meter.meter_id, ts - at * 30 * 86400.0, cut)
    full = truth.model.reading(meter, ts)
    fresh = GroundTruth(CONFIG, truth.ledger)  # nothing cached: the subset is computed on its own
    alone = fresh.model.energy(meter, ts, prefixes)
    assert (alone is None) == (full is None)
    if full is None or alone is None:
        return
    assert alone
    for item, value in alone.items():
        assert item in full and full[item] == value, item
    for prefix in prefixes:
        assert all(f"{prefix}.{s}" in alone for s in ("total", "t1", "t2", "t3", "t4"))


def test_every_energy_fn_names_the_registers_its_value_reads() -> None:
    truth = GroundTruth(replace(CONFIG, rates=FieldRates.quiet()))
    meter = next(m for m in truth.fleet.meters_of(0) if m.kind == "commercial-3p")
    at = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    reading = truth.model.reading(meter, at.timestamp())
    assert reading is not None
    for fn, prefixes in ENERGY_REGISTERS.items():
        alone = truth.model.energy(meter, at.timestamp(), prefixes)
        assert alone is not None
        if fn == 168:
            continue  # F168 reads the import register itself (see answer_data._class1_value)
        assert energy_value(fn, alone, at, date(2026, 11, 24)) == energy_value(fn, reading, at, date(2026, 11, 24))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(-100, 5000), st.permutations(range(6)))
def test_the_day_stream_is_drawn_in_blocks_in_any_order(key: int, day: int, order: list[int]) -> None:
    stream = rng(key, TAG_DAY, day)
    expected = [stream.random() for _ in range(6 * SLOTS_PER_DAY)]
    assert draws(6 * SLOTS_PER_DAY, key, TAG_DAY, day) == expected
    for utility in ("electricity", "water"):
        meter = MeterSpec("m", key, 0, 1, utility, "residential-1p", "dlt645-2007", 5.0, 0.0, None, None,
                          False, None, 0.0)
        truth = GroundTruth(CONFIG)
        state = truth.model.regs.day(meter, day)
        blocks = order if utility == "electricity" else [n for n in order if n < 3]
        for n in blocks:
            assert state.block(n) == expected[n * SLOTS_PER_DAY:(n + 1) * SLOTS_PER_DAY]


# ---- addresses ----------------------------------------------------------------------------------------------

def _scan(truth: GroundTruth, terminal: int, address: str, ts: float) -> MeterSpec | None:
    for meter in truth.fleet.meters_of(terminal):
        if not meter.present(ts):
            continue
        own = meter.address(meter.generation(ts))
        if own == address or (len(own) != len(address) and own[-12:] == address[-12:]):
            return meter
    return None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, CONFIG.concentrators - 1), meters, st.integers(0, 1), st.sampled_from([12, 14, 11, 13, 16]),
       st.floats(0.0, 1.0), st.text("0123456789abcdef", min_size=0, max_size=16))
def test_an_address_finds_the_meter_a_scan_of_the_terminal_finds(
        terminal: int, where: tuple[int, int], generation: int, width: int, offset: float, noise: str) -> None:
    truth = GroundTruth(CONFIG)
    ts = SPAN[0] + offset * (SPAN[1] - SPAN[0])
    own = _meter(truth, *where).address(generation).rjust(14, "0")
    bus = MeterBus(truth, terminal)
    for address in (own[-width:], own[-12:], "00" + own[-12:], noise, own[-12:-2] + noise[:2], "99" + own[-12:]):
        assert bus.by_address(address, ts) is _scan(truth, terminal, address, ts), address


# ---- encoding ----------------------------------------------------------------------------------------------

def _units(draw: st.DrawFn) -> list[DataUnit]:
    out: list[DataUnit] = []
    tm = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    pn = draw(st.integers(0, 30))
    for _ in range(draw(st.integers(0, 90))):
        pn = min(2040, pn + draw(st.sampled_from([0, 0, 1, 1, 1, 2, 7, 8, 9])))
        kind = draw(st.integers(0, 20))
        if kind == 0:
            out.append(DataUnit(pn, draw(st.sampled_from([0, 5])), RawData(0x0D, 0, pn, b"\x01\x02\x03")))
            continue
        count = draw(st.integers(0, 4))
        rates = tuple(draw(st.none() | st.floats(0, 99999.9999)) for _ in range(count))
        fn = draw(st.sampled_from([161, 161, 177, 161]))
        out.append(DataUnit(pn, fn, EnergyReading(tm, draw(st.floats(0, 999999.99)), rates, date(2026, 11, 1))))
    return out


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(20, 1300))
def test_encoding_once_lays_out_frames_as_sizing_and_encoding_again_did(data: st.DataObject, limit: int) -> None:
    units = _units(data.draw)
    groups = reference_split(0x0D, units, limit)
    assert split_units(0x0D, units, limit) == groups
    assert encode_groups(0x0D, units, limit) == [encode_units(0x0D, 1, g) for g in groups]


@settings(max_examples=50, deadline=None)
@given(st.data(), st.integers(0, 15), st.booleans(), st.booleans())
def test_answer_frames_are_the_builders_own(data: st.DataObject, seq: int, with_tp: bool, acd: bool) -> None:
    units = [u for u in _units(data.draw) if not isinstance(u.value, RawData)]
    master = Address(0x3701, 5, master=1)
    tp = TimeLabel(seq * 3, datetime(2026, 11, 25, 0, 25, tzinfo=DEVICE_TZ), 5) if with_tp else None
    request = b.request(master, 0x0D, [DataUnit(1, 161, date(2026, 11, 24))], seq, tp=tp)

    state = SimpleNamespace(acd=(3, 1) if acd else None)  # what respond() reads of a terminal
    frames = respond(state, request, units)  # type: ignore[arg-type]
    if not units:
        assert frames == [b.deny(request, ec=state.acd)]
        return
    groups = reference_split(0x0D, units, 1200)
    assert frames == [b.response(request, g, fir=i == 0, fin=i == len(groups) - 1, acd_ec=state.acd)
                      for i, g in enumerate(groups)]


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**30), 10**30), st.integers(0, 16))
def test_bcd_digits_are_those_of_the_divmod_loop(value: int, width: int) -> None:
    out = bytearray(width)
    rest = value
    for i in range(width):
        rest, two = divmod(rest, 100)
        out[i] = ((two // 10) << 4) | (two % 10)
    assert formats._to_bcd(value, width) == out


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)),
       st.sampled_from([UTC, DEVICE_TZ, timezone(timedelta(hours=-5)), None]))
def test_tm_encodes_the_same_however_often_and_in_whichever_zone(moment: datetime, zone: timezone | None) -> None:
    value = moment.replace(tzinfo=zone)
    local = value.astimezone(DEVICE_TZ) if zone is not None else value
    expected = bytes(formats._TO_BCD[x] for x in (local.minute, local.hour, local.day, local.month, local.year - 2000))
    for _ in range(2):
        assert formats.enc_a15(value, DEFAULT_OPTIONS) == expected
    if zone is not None:
        assert formats.enc_a15(value.astimezone(UTC), DEFAULT_OPTIONS) == expected


# ---- the ledger --------------------------------------------------------------------------------------------

def test_the_touched_count_changes_exactly_when_the_touched_list_does() -> None:
    ledger = ControlLedger()
    seen = ledger.touched()
    rnd = random.Random(3)
    for step in range(200):
        meter = f"m-{rnd.randrange(12)}"
        if rnd.random() < 0.5:
            ledger.set_cut_off(meter, float(step), rnd.random() < 0.5)
        else:
            ledger.sync_clock(meter, float(step))
        now = ledger.touched()
        assert (now != seen) == (ledger.touched_count() != len(seen)) and ledger.touched_count() == len(now)
        seen = now


def test_a_terminal_answers_from_the_meters_it_reads_now() -> None:
    """meter_at (F10 entry → address lookup) still follows replacements: a smoke test on a busy fleet."""
    truth = GroundTruth(CONFIG)
    state = TerminalState(truth, 1, started_ts=SPAN[0])
    for meter in truth.fleet.meters_of(1):
        for ts in (meter.installed_at - 1.0, meter.installed_at + 10.0,
                   *((meter.replaced_at - 1.0, meter.replaced_at + 1.0) if meter.replaced_at else ())):
            expected = meter if meter.present(ts) else None
            assert state.meter_at(meter.pn, ts) is expected
