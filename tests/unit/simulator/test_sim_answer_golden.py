"""The concentrator's answers are byte for byte what they were before the answering path was optimised.

``data/sim_answers_golden.json.gz`` holds answers recorded from the unoptimised
simulator (see ``sim_answer_cases``): AFN0D daily / monthly frozen data by 64 and
8 points, AFN0C current data, AFN10 forwarding of CJ/T 188 and DL/T 645 reads,
over quiet and busy fields (replaced, removed, added and rolled-over meters,
outages, leaks, trips and closes in the ledger, unread events so answers carry
EC), plus SHA-256 pins of the collector's daily mix over 2,000 meters and of
every meter's full reading at instants of every kind (the truth API). Each
scenario is replayed twice on the same truth — cold caches, then warm — and
once more on a fresh truth in reverse order, so no answer depends on what was
asked before it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sim_answer_cases import (
    DIGEST_SCENARIOS,
    SCENARIOS,
    TRUTH_SCENARIOS,
    answers,
    build,
    digests,
    load,
    requests,
    truth_digests,
)

GOLDEN: dict[str, Any] = load()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_answers_match_the_recorded_frames(scenario: Any) -> None:
    recorded = GOLDEN[scenario.name]
    truth, states = build(scenario)
    cases = [(label, raw, state) for state in states.values() for label, raw in requests(scenario, truth, state)]
    assert sorted(label for label, _, _ in cases) == sorted(recorded)
    for label, raw, _ in cases:
        assert raw.hex() == recorded[label]["request"], f"{label}: the request itself changed"
    for attempt in ("cold", "warm"):
        for label, raw, state in cases:
            assert answers(raw, state, scenario.now) == recorded[label]["answers"], f"{label} ({attempt})"
    truth, states = build(scenario)
    for label, raw, _ in reversed(cases):
        state = states[int(label.split("-")[0][1:])]
        assert answers(raw, state, scenario.now) == recorded[label]["answers"], f"{label} (reversed, fresh)"


@pytest.mark.parametrize("scenario", DIGEST_SCENARIOS, ids=lambda s: s.name)
def test_the_daily_mix_of_larger_fleets_matches_its_pins(scenario: Any) -> None:
    assert digests(scenario) == GOLDEN["digests"][scenario.name]


@pytest.mark.parametrize("scenario", TRUTH_SCENARIOS, ids=lambda s: s.name)
def test_the_truth_is_what_it_was(scenario: Any) -> None:
    """Every item of every meter at instants of every kind, walked forwards and then backwards on a fresh truth."""
    assert truth_digests(scenario) == GOLDEN["truth"][scenario.name]
    assert truth_digests(scenario, order=-1) == GOLDEN["truth"][scenario.name]
