"""Loss rules without a database: figures and completeness, flags, model checks, generation, ranking (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from emms_analytics.loss.figures import DayLoss, Member, day_loss, flag
from emms_analytics.loss.generate import desired
from emms_analytics.loss.models import fingerprint, problems
from emms_analytics.loss.rank import rank, step_split

DAY = date(2026, 11, 20)
D0 = datetime(2026, 11, 19, 16, tzinfo=UTC)
D1 = D0 + timedelta(days=1)
HOUR = timedelta(hours=1)
MEMBERS = [Member("IN", "input", 1.0, 40.0), Member("A", "output", 1.0, 1.0), Member("B", "output", -1.0, 1.0)]


def test_loss_is_inputs_minus_outputs_with_signs_and_multipliers() -> None:
    usage = {("IN", DAY): 10.0, ("A", DAY): 300.0, ("B", DAY): 20.0}
    cover = {(p, DAY): (D0, D1) for p in ("IN", "A", "B")}
    d = day_loss(DAY, 1, MEMBERS, usage, cover, D0, D1, HOUR)
    assert d.complete and d.input == 400.0 and d.output == 280.0  # B's sign −1: an export counted back
    assert d.loss == 120.0 and d.rate == 0.3


@given(st.sampled_from(["IN", "A", "B"]), st.sampled_from(["none", "late_start", "early_end"]))
def test_a_member_not_covering_the_day_makes_it_incomplete_without_a_figure(point: str, how: str) -> None:
    usage = {(p, DAY): 5.0 for p in ("IN", "A", "B")}
    cover = {(p, DAY): (D0, D1) for p in ("IN", "A", "B")}
    if how == "none":
        del cover[(point, DAY)]
    elif how == "late_start":
        cover[(point, DAY)] = (D0 + 2 * HOUR, D1)
    else:
        cover[(point, DAY)] = (D0, D1 - 2 * HOUR)
    d = day_loss(DAY, 1, MEMBERS, usage, cover, D0, D1, HOUR)
    assert not d.complete and d.loss is None and d.rate is None and d.input is None
    assert d.missing == [point] and d.reason is not None and point in d.reason
    cover[(point, DAY)] = (D0 + HOUR / 2, D1 - HOUR / 2)  # within the tolerance
    assert day_loss(DAY, 1, MEMBERS, usage, cover, D0, D1, HOUR).complete


def _day(k: int, inp: float | None, out: float | None) -> DayLoss:
    return DayLoss(DAY + timedelta(days=k), 1, inp, out, inp is not None)


def test_flags_negative_above_threshold_and_sudden_change() -> None:
    days = [_day(0, 100, 97), _day(1, 100, 96), _day(2, 100, 85), _day(3, None, None), _day(4, 100, 104),
            _day(5, 100, 103)]
    flag(days, 0.07, 0.0, 0.03)
    assert [d.flags for d in days] == [[], [], ["above_threshold", "sudden_change"], [], ["negative", "sudden_change"],
                                      ["negative"]]
    fresh = [_day(0, 100, 96)]
    flag(fresh, 0.07, 0.0, 0.03, before=_day(-1, 100, 99.5))
    assert fresh[0].flags == ["sudden_change"]


def test_model_problems_and_fingerprint() -> None:
    known = {"IN": "electricity", "A": "electricity", "W": "water"}
    ok = [{"metering_point_id": "IN", "side": "input"}, {"metering_point_id": "A", "side": "output"}]
    assert problems(ok, known, "electricity") == []
    both = [*ok, {"metering_point_id": "A", "side": "input"}]
    assert "both input and output: A" in problems(both, known, "electricity")[0]
    assert any("unknown metering points: X" in p for p in
               problems([*ok, {"metering_point_id": "X", "side": "output"}], known, "electricity"))
    assert any("another utility" in p for p in
               problems([*ok, {"metering_point_id": "W", "side": "output"}], known, "electricity"))
    assert problems(ok[1:], known, "electricity") == ["no input point"]
    members = [{**m, "sign": 1, "multiplier": 1} for m in ok]
    assert fingerprint(members) == fingerprint(list(reversed(members)))
    assert fingerprint(members) != fingerprint([{**members[0], "multiplier": 40}, members[1]])


def test_generation_follows_the_node_tree_and_the_network_category() -> None:
    nodes: list[dict[str, Any]] = [
             {"node_id": "L1", "name": "L1", "kind": "line", "utility": "electricity", "parent_id": None,
              "company_id": "CO", "region_id": "R"},
             {"node_id": "T1", "name": "T1", "kind": "transformer", "utility": None, "parent_id": "L1",
              "company_id": "CO", "region_id": "R1"},
             {"node_id": "B1", "name": "B1", "kind": "branch", "utility": "electricity", "parent_id": "T1",
              "company_id": "CO", "region_id": "R1"},
             {"node_id": "S1", "name": "S1", "kind": "heat_exchange_station", "utility": "heat", "parent_id": None,
              "company_id": "CO", "region_id": "R2"}]
    points = [{"metering_point_id": "TOT", "node_id": "T1", "utility": "electricity", "category": "network"},
              {"metering_point_id": "C1", "node_id": "B1", "utility": "electricity", "category": "residential"},
              {"metering_point_id": "C2", "node_id": "T1", "utility": "electricity", "category": "commercial"},
              {"metering_point_id": "H1", "node_id": "S1", "utility": "heat", "category": "residential"},
              {"metering_point_id": "L", "node_id": "L1", "utility": "electricity", "category": "network"}]
    got = desired(nodes, points, {"electricity": "energy.active.import.total", "heat": "heat.energy"})
    assert set(got) == {"gen-T1", "gen-S1"}
    row, members = got["gen-T1"]
    assert {(m["metering_point_id"], m["side"]) for m in members} == {("TOT", "input"), ("C1", "output"),
                                                                     ("C2", "output")}
    assert (row["utility"], row["line_id"], row["region_id"], row["item"]) == (
        "electricity", "L1", "R1", "energy.active.import.total")
    assert [m["side"] for m in got["gen-S1"][1]] == ["output"]  # no input yet: not a usable model


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 14), st.integers(2, 6), st.floats(0.0, 0.6), st.integers(0, 10_000))
def test_a_meter_reading_less_from_the_step_ranks_first(days: int, onset: int, fraction: float, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    onset = min(onset, days - 2)
    others = {f"M{k}": [rnd.uniform(5, 15) * (1 + 0.2 * (d % 7 == 5)) for d in range(days)] for k in range(20)}
    culprit_true = [rnd.uniform(250, 300) for _ in range(days)]
    culprit = [t if d < onset else fraction * t for d, t in enumerate(culprit_true)]
    outputs = [sum(v[d] for v in others.values()) + culprit[d] for d in range(days)]
    true_out = [sum(v[d] for v in others.values()) + culprit_true[d] for d in range(days)]
    loss = [0.03 * t + (culprit_true[d] - culprit[d]) for d, t in enumerate(true_out)]
    cands = {k: ("output", v) for k, v in others.items()} | {"THIEF": ("output", culprit)}
    ranked = rank(loss, outputs, cands, min_step=10.0)
    assert ranked[0].point == "THIEF" and ranked[0].score > 0.5
    split = step_split(loss)
    assert split is not None and split[0] == onset


@settings(max_examples=60, deadline=None)
@given(st.integers(7, 14), st.integers(0, 10_000))
def test_a_neighbour_meter_physically_here_is_found_one_for_one(days: int, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    mine = {f"M{k}": [rnd.uniform(5, 15) for _ in range(days)] for k in range(15)}
    foreign = {f"N{k}": [rnd.uniform(100, 400) for _ in range(days)] for k in range(15)}
    here = "N3"
    outputs = [sum(v[d] for v in mine.values()) for d in range(days)]
    loss = [0.03 * (outputs[d] + foreign[here][d]) + foreign[here][d] for d in range(days)]
    cands = {k: ("output", v) for k, v in mine.items()} | {k: ("neighbour", v) for k, v in foreign.items()}
    ranked = rank(loss, outputs, cands, min_step=1e9)
    assert ranked[0].point == here and ranked[0].score > 0.9


@settings(max_examples=60, deadline=None)
@given(st.integers(7, 14), st.integers(0, 10_000))
def test_a_neighbour_must_also_explain_its_homes_loss(days: int, seed: int) -> None:
    """A meter of neighbour B is physically here. Neighbour C, short by a meter of its own that is physically
    elsewhere, lists a decoy of nearly the same daily usage. Both explain this loss one for one; only the meter
    here also explains its home's deficit, so with the homes it ranks first and the decoy falls back."""
    import random

    rnd = random.Random(seed)
    mine = {f"M{k}": [rnd.uniform(5, 15) for _ in range(days)] for k in range(15)}
    b = {f"N{k}": [rnd.uniform(100, 400) for _ in range(days)] for k in range(15)}
    c = {f"K{k}": [rnd.uniform(100, 400) for _ in range(days)] for k in range(15)}
    here, away = b["N3"], c["K5"]
    c["DECOY"] = [u + rnd.uniform(-5, 5) for u in here]
    outputs = [sum(v[d] for v in mine.values()) for d in range(days)]
    loss = [0.03 * (outputs[d] + here[d]) + here[d] for d in range(days)]

    def home(members: dict[str, list[float]], gone: list[float]) -> tuple[list[float], list[float]]:
        out = [sum(v[d] for v in members.values()) for d in range(days)]
        return [0.03 * (out[d] - gone[d]) - gone[d] for d in range(days)], out

    homes = dict.fromkeys(b, home(b, here)) | dict.fromkeys(c, home(c, away))
    cands = ({k: ("output", v) for k, v in mine.items()} | {k: ("neighbour", v) for k, v in b.items()}
             | {k: ("neighbour", v) for k, v in c.items()})
    blind = {r.point: r for r in rank(loss, outputs, cands, min_step=1e9)}
    assert blind["DECOY"].score > 0.9 and blind["N3"].score > 0.9
    ranked = rank(loss, outputs, cands, min_step=1e9, homes=homes)
    assert ranked[0].point == "N3" and ranked[0].score > 0.9
    assert all(r.score < min(blind["DECOY"].score, 0.9) for r in ranked if r.point == "DECOY")


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 14), st.integers(2, 5), st.integers(0, 10_000))
def test_a_stopped_meter_outranks_neighbours_of_the_same_daily_shape(days: int, onset: int, seed: int) -> None:
    """Every large customer follows one daily shape (the simulator's 200-area network). Here a large meter
    stopped: the loss steps up and then follows that shape. A neighbour's meter of that shape, as large, would
    have raised the loss before the step too: it must not outrank the stopped meter."""
    import random

    rnd = random.Random(seed)
    onset = min(onset, days - 2)
    shape = [rnd.uniform(0.5, 1.2) for _ in range(days)]
    mine = {f"M{k}": [rnd.uniform(5, 15) for _ in range(days)] for k in range(15)}
    stop_true = [600.0 * f for f in shape]
    stop = [t if d < onset else 0.0 for d, t in enumerate(stop_true)]
    true_out = [sum(v[d] for v in mine.values()) + stop_true[d] for d in range(days)]
    outputs = [sum(v[d] for v in mine.values()) + stop[d] for d in range(days)]
    loss = [0.02 * true_out[d] + stop_true[d] - stop[d] for d in range(days)]
    theirs = {f"N{k}": [600.0 * f * rnd.uniform(0.95, 1.05) for f in shape] for k in range(5)}
    cands = ({k: ("output", v) for k, v in mine.items()} | {"STOP": ("output", stop)}
             | {k: ("neighbour", v) for k, v in theirs.items()})
    ranked = rank(loss, outputs, cands, min_step=100.0)
    assert ranked[0].point == "STOP" and all(r.score < ranked[0].score for r in ranked[1:])


@settings(max_examples=60, deadline=None, derandomize=True)  # the rule's residual false steps (docs/analytics.md)
@given(st.integers(8, 14), st.integers(0, 10_000))
@example(8, 2339)  # a fresh-clone run found it at 3× the spread: a 3.2× "step" of noise over 8 days
def test_a_loss_that_follows_the_load_shape_has_no_step(days: int, seed: int) -> None:
    """Here the largest customer is listed under a neighbour, every day: the loss follows the load's daily shape
    (low on some days), and so do the head meter and every output. No step is found, so the head meter gets no
    step score (a "lost input") — the neighbour's listing of the meter ranks first."""
    import random

    rnd = random.Random(seed)
    shape = [rnd.choice((1.0, 1.0, 1.0, 0.55, 0.45)) * rnd.uniform(0.95, 1.05) for _ in range(days)]
    mine = {f"M{k}": [rnd.uniform(10, 30) * f for f in shape] for k in range(20)}
    big = [700.0 * f * rnd.uniform(0.97, 1.03) for f in shape]
    outputs = [sum(v[d] for v in mine.values()) for d in range(days)]
    head = [1.02 * (outputs[d] + big[d]) for d in range(days)]  # the total meter sees every customer here
    loss = [head[d] - outputs[d] for d in range(days)]
    theirs = {f"N{k}": [rnd.uniform(100, 400) for _ in range(days)] for k in range(10)} | {"BIG": big}
    home_out = [sum(v[d] for v in theirs.values()) for d in range(days)]
    home_loss = [0.02 * (home_out[d] - big[d]) - big[d] for d in range(days)]
    cands = ({k: ("output", v) for k, v in mine.items()} | {"HEAD": ("input", head)}
             | {k: ("neighbour", v) for k, v in theirs.items()})
    ranked = rank(loss, outputs, cands, min_step=0.5 * 0.03 * sum(head) / days,
                  homes=dict.fromkeys(theirs, (home_loss, home_out)))
    assert ranked[0].point == "BIG"
    assert all(r.step == 0.0 for r in ranked if r.point == "HEAD")
