"""Bounds of what the collector accepts (the schemathesis 500s of issue #14): every number fits the SQL it
reaches, every string is storable by PostgreSQL (no NUL, no lone surrogate, bounded), every time has a UTC
form — checked on the parameter types and bodies themselves, and over the whole OpenAPI document so a new
route cannot bring the defect back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from emms_collector.api.params import MAX_ID, MAX_OFFSET, Offset, RowId, TaskPath, TerminalPath, TimeFilter
from emms_collector.api.routes_gaps import BackfillBody
from emms_collector.app import create_app
from emms_collector.inputs import EARLIEST, LATEST, Name, Reason, Ref, in_range
from emms_collector.manual.reads import ManualRead
from emms_collector.repository.tasks import task_from_row
from emms_collector.repository.templates import _from_row as template_from_row
from emms_collector.settings import CollectorSettings
from emms_collector.tasks.model import Task, TaskBody
from emms_collector.tasks.templates import Template

OFFSET, ROW_ID = TypeAdapter(Offset), TypeAdapter(RowId)
TASK = {"name": "t", "type": "daily_frozen", "target": {"all": True}, "period": {"unit": "daily"}}


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_an_offset_is_accepted_only_between_zero_and_its_bound(value: int) -> None:
    assert _accepts(OFFSET, value) == (0 <= value <= MAX_OFFSET)


@given(st.integers(min_value=-(2**80), max_value=2**80))
def test_a_row_id_is_accepted_only_when_it_fits_a_bigint(value: int) -> None:
    assert _accepts(ROW_ID, value) == (1 <= value <= MAX_ID)


def test_the_bounds_themselves() -> None:
    assert _accepts(OFFSET, MAX_OFFSET) and not _accepts(OFFSET, MAX_OFFSET + 1)
    assert _accepts(ROW_ID, 2**63 - 1) and not _accepts(ROW_ID, 2**63)
    assert not _accepts(OFFSET, "10167290003673530153541188473323520")  # the fuzzer's offset


def _storable(text: str) -> bool:
    return "\x00" not in text and text.encode("utf-8", "strict") is not None


WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and not 0x1C <= c <= 0x1F)
"""What ``strip_whitespace`` takes off (Unicode White_Space; Python's ``str.strip`` also takes U+001C…U+001F)."""


@given(st.text(max_size=80))
def test_an_identifier_is_accepted_only_without_control_characters_and_at_most_64_long(text: str) -> None:
    adapter = TypeAdapter(Ref)
    stripped = text.strip(WHITESPACE)
    expected = 1 <= len(stripped) <= 64 and not re.search(r"[\x00-\x1f\x7f]", stripped)
    assert _accepts(adapter, text) == expected
    if expected:
        assert _storable(adapter.validate_python(text))


@given(st.text(max_size=220))
def test_free_text_keeps_tabs_and_line_breaks_and_refuses_nul(text: str) -> None:
    expected = len(text) <= 200 and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    assert _accepts(TypeAdapter(Reason), text) == expected
    assert _accepts(TypeAdapter(Name), text) == (expected and len(text) >= 1)


@pytest.mark.parametrize("text", ["a\x00b", "\x00", "\ud800", "ok\udfff"])
def test_nul_and_lone_surrogates_are_refused_everywhere(text: str) -> None:
    for adapter in (TypeAdapter(Ref), TypeAdapter(Name), TypeAdapter(Reason)):
        assert not _accepts(adapter, text)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-1439, 1439))))
@settings(max_examples=300)
def test_a_time_is_accepted_only_between_1970_and_2999_and_never_overflows(moment: datetime) -> None:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    expected = utc is not None and EARLIEST <= utc < LATEST
    try:
        in_range(moment)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == expected
    assert _accepts(TypeAdapter(TimeFilter), moment) == expected


def test_the_fuzzers_times_are_refused() -> None:
    for moment in (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23))),
                   datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-23))),
                   datetime(20, 12, 10, 16, 32, tzinfo=timezone(timedelta(hours=15, minutes=27)))):
        with pytest.raises(ValueError):
            in_range(moment)
    assert in_range(datetime(2026, 1, 1)) == datetime(2026, 1, 1)  # naive: taken as UTC


@pytest.mark.parametrize(("model", "body"), [
    (TaskBody, {**TASK, "name": "a\x00"}),
    (TaskBody, {**TASK, "target": {"groups": ["\x00"]}}),
    (TaskBody, {**TASK, "items": ["energy\x00"]}),
    (TaskBody, {**TASK, "company_id": "A\x00"}),
    (TaskBody, {**TASK, "valid_from": "0001-01-01T00:00:00+23:00"}),
    (ManualRead, {"terminals": ["\u00eeb\x00"]}),
    (ManualRead, {"meters": ["m1"], "reason": "alarm\x00"}),
    (ManualRead, {"meters": ["m1"], "type": "daily_frozen", "date": "0001-01-01"}),
    (BackfillBody, {"meters": ["m\x00"], "items": ["energy.active.import.total"],
                    "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}),
    (BackfillBody, {"meters": ["m1"], "items": ["energy.active.import.total"],
                    "start": "1900-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}),
    (Template, {"id": "t", "name": "n\x00", "utility": "water",
                "spec": {"name": "n", "type": "daily_frozen", "period": {"unit": "daily"}}}),
])
def test_bodies_refuse_what_postgresql_cannot_store(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_path_parameters_refuse_nul() -> None:
    assert not _accepts(TypeAdapter(TaskPath), "dev\x00")
    assert not _accepts(TypeAdapter(TerminalPath), "3701-0001\x00")
    assert _accepts(TypeAdapter(TaskPath), "auto-electricity-daily")


# -- the whole OpenAPI document ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(CollectorSettings(_env_file=None)).openapi()  # type: ignore[call-arg]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


Leaf = tuple[str, dict[str, Any]]


def _leaves(spec: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> list[Leaf]:
    """Every scalar schema inside ``schema`` (through refs, unions, arrays and object properties)."""
    ref = schema.get("$ref")
    if ref:
        if ref in seen:
            return []
        seen = seen | {ref}
    schema = _resolve(spec, schema)
    out: list[Leaf] = []
    for union in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(union, []):
            out += _leaves(spec, part, where, seen)
    if schema.get("type") == "array":
        out += _leaves(spec, schema.get("items", {}), f"{where}[]", seen)
    for name, sub in schema.get("properties", {}).items():
        out += _leaves(spec, sub, f"{where}.{name}", seen)
    if schema.get("type") in ("string", "integer", "number"):
        out.append((where, schema))
    return out


def _inputs(spec: dict[str, Any]) -> list[Leaf]:
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            label = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                found += _leaves(spec, p["schema"], f"{label} {p['in']}:{p['name']}", set())
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                found += _leaves(spec, body, f"{label} body", set())
    return found


def _unbounded(schema: dict[str, Any]) -> str | None:
    if "enum" in schema or "const" in schema:
        return None
    if schema["type"] in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None or high is None:
            return "a number without minimum and maximum"
        if schema["type"] == "integer" and not -(2**63) <= low <= high <= 2**63 - 1:
            return "an integer beyond 64 bits"
        return None
    if schema.get("format") in ("date-time", "date"):
        return None
    if "maxLength" not in schema:
        return "a string without maxLength"
    pattern = schema.get("pattern")
    if pattern is None:
        return "a string without a pattern (NUL would reach PostgreSQL)"
    if re.search(pattern, "\x00") or re.search(pattern, "a\x00") or re.search(pattern, "3701-0000\x00"):
        return f"a pattern that lets NUL through: {pattern}"
    return None


def test_every_input_of_every_route_is_bounded(spec: dict[str, Any]) -> None:
    inputs = _inputs(spec)
    assert len(inputs) > 60  # the walk reaches the parameters and the body fields
    problems = [f"{where}: {why}" for where, schema in inputs if (why := _unbounded(schema))]
    assert problems == []


PATTERNS = sorted({s["pattern"] for _, s in _inputs(create_app(CollectorSettings(_env_file=None)).openapi())  # type: ignore[call-arg]
                   if "pattern" in s})


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_what_the_documented_patterns_admit_is_storable(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(PATTERNS))
    value = data.draw(st.from_regex(pattern, fullmatch=True))
    assert _storable(value)


# -- rows stored before the bounds are still read -------------------------------------------------------------

def test_a_task_stored_before_the_bounds_is_read_as_stored() -> None:
    row = {"id": "old", "name": "old\x07task", "task_type": "daily_frozen",
           "target": '{"regions": ["r\\u0018"], "all": false}', "items": [],
           "valid_from": datetime(1900, 1, 1, tzinfo=UTC), "valid_to": None,
           "period": {"unit": "daily", "at": "01:00", "every": 1, "day": 1}, "priority": 5,
           "retries": 2, "retry_delay_s": 30.0, "backfill_days": 7, "enabled": True, "auto": False,
           "template_id": None, "version": 1, "created_by": "x", "created_at": None, "updated_at": None,
           "company_id": None, "scope_regions": []}
    task = task_from_row(row)
    public = task.as_public()
    assert public["name"] == "old\x07task" and public["target"]["regions"] == ["r\x18"]
    assert public["type"] == "daily_frozen" and public["period"]["at"] == "01:00"
    with pytest.raises(ValidationError):  # changing it means fixing it
        Task.model_validate(public)


def test_a_template_stored_before_the_bounds_is_read_as_stored() -> None:
    template = template_from_row({"id": "old", "name": "old\x07", "utility": "water", "protocol": None,
                                  "spec": '{"name": "n", "type": "daily_frozen", "period": {"unit": "daily"}}',
                                  "enabled": True})
    assert template.name == "old\x07" and template.matches("water", "cjt188-2004")
