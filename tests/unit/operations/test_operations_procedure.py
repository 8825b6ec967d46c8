"""The ticket procedure: every allowed step passes, every other is refused with the allowed ones named."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_operations.tickets.procedure import (
    ALLOWED,
    Severity,
    State,
    TransitionRefused,
    check,
    due_at,
    parse_state,
)
from emms_runtime.errors import Conflict, Invalid

EVERY = [(a, b) for a in State for b in State]


@pytest.mark.parametrize(("current", "target"), [p for p in EVERY if p[1] in ALLOWED[p[0]]])
def test_allowed_steps_pass_with_what_they_need(current: State, target: State) -> None:
    check(current, target, assignee="li.wei", closing_reason="modem replaced")


@pytest.mark.parametrize(("current", "target"), [p for p in EVERY if p[1] not in ALLOWED[p[0]]])
def test_forbidden_steps_are_a_conflict_naming_the_allowed(current: State, target: State) -> None:
    with pytest.raises(TransitionRefused) as info:
        check(current, target, assignee="li.wei", closing_reason="done")
    assert isinstance(info.value, Conflict)
    for allowed in ALLOWED[current]:
        assert allowed.value in str(info.value)
    if current is State.CLOSED:
        assert "closed ticket does not change" in str(info.value)


def test_the_standard_path_and_its_reopening() -> None:
    path = [State.OPEN, State.ASSIGNED, State.IN_PROGRESS, State.RESOLVED, State.CLOSED]
    for a, b in itertools.pairwise(path):
        check(a, b, assignee="li.wei", closing_reason="cable repaired")
    check(State.RESOLVED, State.IN_PROGRESS, assignee=None, closing_reason=None)
    with pytest.raises(TransitionRefused):
        check(State.OPEN, State.CLOSED, assignee=None, closing_reason="x")
    with pytest.raises(TransitionRefused):
        check(State.CLOSED, State.IN_PROGRESS, assignee=None, closing_reason=None)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_assigning_needs_an_assignee_and_closing_a_reason(blank: str | None) -> None:
    with pytest.raises(Invalid, match="assignee"):
        check(State.OPEN, State.ASSIGNED, assignee=blank, closing_reason=None)
    with pytest.raises(Invalid, match="closing_reason"):
        check(State.RESOLVED, State.CLOSED, assignee=None, closing_reason=blank)


def test_unknown_state_is_invalid() -> None:
    with pytest.raises(Invalid, match="unknown ticket state"):
        parse_state("done")


@given(st.sampled_from(list(Severity)), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                                     timezones=st.just(UTC)))
def test_due_time_by_severity(severity: Severity, start: datetime) -> None:
    hours = {"critical": 4.0, "major": 24.0, "minor": 72.0}
    assert due_at(severity, start, hours) - start == timedelta(hours=hours[severity.value])


def test_a_severity_without_due_time_is_invalid() -> None:
    with pytest.raises(Invalid, match="no due time"):
        due_at(Severity.MINOR, datetime.now(UTC), {"critical": 1.0})
