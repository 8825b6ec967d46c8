"""Bounded request parameters of the validator (and of the FEP, which follows the same rules): 422 with the
reason, never a 500 from PostgreSQL or from date arithmetic.

schemathesis found offsets beyond 64 bits answered with 500 (asyncpg cannot send them); NUL bytes in
text (PostgreSQL refuses them) and times outside Python's range on the way to UTC are the same class
of defect. The sweep below reads each app's OpenAPI document, so a parameter added tomorrow without a
bound fails here: every integer has a maximum, every string a pattern (or an enum), and a request
breaking one is refused by request validation before any handler or database is reached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, get_args
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from service_harness import FreshBearer

from emms_fep.api import deps as fep_deps
from emms_fep.app import create_app as create_fep
from emms_fep.settings import FepSettings
from emms_validator.api import deps
from emms_validator.api.routes_anomalies import Transition
from emms_validator.api.routes_customers import KeyRule, Mark
from emms_validator.api.routes_readings import Edit
from emms_validator.app import create_app as create_validator
from emms_validator.settings import ValidatorSettings

OFFSETS = TypeAdapter(deps.Offset)
INSTANT = TypeAdapter(deps.Instant)
AWARE = TypeAdapter(deps.AwareInstant)
DAY = TypeAdapter(fep_deps.Day)
METHODS = ("get", "post", "put", "patch", "delete")
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
"""UTC offsets in whole minutes, as ISO 8601 writes them."""


def _apps() -> dict[str, FastAPI]:
    validator = create_validator(ValidatorSettings(_env_file=None))  # type: ignore[call-arg]
    validator.dependency_overrides[get_args(deps.ValidatorDep)[1].dependency] = lambda: None
    fep = create_fep(FepSettings(_env_file=None))  # type: ignore[call-arg]
    fep.dependency_overrides[get_args(fep_deps.FepDep)[1].dependency] = lambda: None
    return {"validator": validator, "fep": fep}


APPS = _apps()
"""Apps whose runtime is never started: a request that passes validation would find none, so every request
sent below must be refused before its handler runs."""
ADMIN = FreshBearer("params", "admin", step_up=True)


def _schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a parameter's schema, without ``null``."""
    options = schema.get("anyOf", [schema])
    return [o for o in options if o.get("type") != "null"]


def _parameters() -> Iterator[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    for name, app in APPS.items():
        for path, item in app.openapi()["paths"].items():
            for method, op in item.items():
                if method in METHODS and not op.get("x-emms-public"):
                    for p in op.get("parameters", ()):
                        for schema in _schemas(p["schema"]):
                            yield name, method, path, p, schema


PARAMETERS = list(_parameters())


def _url(path: str, op_params: list[dict[str, Any]], **values: str) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        schema = next(s for p in op_params if p["name"] == name for s in _schemas(p["schema"]))
        return str(schema["enum"][0]) if "enum" in schema else "abc1"

    return re.sub(r"\{([^}]+)\}", fill, path)


def _operation(app: str, method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = APPS[app].openapi()["paths"][path][method]
    return op


def _send(app: str, method: str, path: str, param: dict[str, Any], value: str) -> Any:
    op = _operation(app, method, path)
    client = TestClient(APPS[app])
    if param["in"] == "path":
        url, query = _url(path, op["parameters"], **{param["name"]: quote(value, safe="")}), None
    else:
        url, query = _url(path, op["parameters"]), {param["name"]: value}
    body = {} if "requestBody" in op else None
    return client.request(method.upper(), url, params=query, json=body, headers=ADMIN)


def test_the_sweep_sees_both_services() -> None:
    assert {name for name, *_ in PARAMETERS} == {"validator", "fep"}
    assert len(PARAMETERS) >= 25


@pytest.mark.parametrize(("app", "method", "path", "param", "schema"), PARAMETERS,
                         ids=[f"{a}-{m}-{p}-{q['name']}" for a, m, p, q, _ in PARAMETERS])
def test_every_parameter_is_bounded(app: str, method: str, path: str, param: dict[str, Any],
                                    schema: dict[str, Any]) -> None:
    if schema.get("type") == "integer":
        assert schema.get("maximum", 2**63) <= deps.MAX_OFFSET and "minimum" in schema
        resp = _send(app, method, path, param, str(2**64 + 1))
        assert resp.status_code == 422, resp.text
        assert any(e["loc"][-1] == param["name"] for e in resp.json()["errors"]), resp.text
    elif schema.get("type") == "string" and "enum" not in schema:
        assert "pattern" in schema, f"{param['name']} has no pattern"
        resp = _send(app, method, path, param, "ab\x00c")
        assert resp.status_code == 422, resp.text
        errors = str(resp.json()["errors"])  # the parameter's pattern, or the runtime's refusal of NUL before it
        assert param["name"] in errors or "NUL" in errors, resp.text
    elif schema.get("type") == "number":
        assert "maximum" in schema or "exclusiveMaximum" in schema


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_no_string_pattern_admits_a_nul_byte(data: st.DataObject) -> None:
    # whole-value patterns; an instant's or a day's pattern only bounds its year, its format parses the rest
    patterns = sorted({s["pattern"] for *_, s in PARAMETERS if "pattern" in s and "format" not in s}
                      | {deps.PRINTABLE, deps.LABEL, deps.RULE_PATTERN, fep_deps.REPLICA_PATTERN})
    assert all(p.startswith("^") and p.endswith("$") for p in patterns)
    pattern = data.draw(st.sampled_from(patterns))
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    at = data.draw(st.integers(0, len(text)))
    assert re.search(pattern, text[:at] + "\x00" + text[at:]) is None


@given(st.integers(min_value=0, max_value=deps.MAX_OFFSET))
def test_every_offset_postgresql_takes_is_accepted(offset: int) -> None:
    assert OFFSETS.validate_python(offset) == offset


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=deps.MAX_OFFSET + 1)))
def test_offsets_out_of_range_are_refused(offset: int) -> None:
    with pytest.raises(ValidationError):
        OFFSETS.validate_python(offset)


@given(st.integers(min_value=deps.MAX_OFFSET + 1, max_value=2**200))
def test_a_huge_offset_is_a_422_naming_it(offset: int) -> None:
    client = TestClient(APPS["validator"])
    for url in ("/api/v1/anomalies", "/api/v1/review", "/api/v1/key-customers"):
        resp = client.get(url, params={"offset": str(offset)}, headers=ADMIN)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["query", "offset"]


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets))
def test_instants_are_bounded_and_become_utc(value: datetime) -> None:
    text = value.isoformat()
    if deps.FIRST_YEAR <= value.year <= deps.LAST_YEAR:
        parsed = INSTANT.validate_python(text)
        assert parsed.tzinfo is UTC and parsed == value
        assert AWARE.validate_python(text) == value
    else:
        with pytest.raises(ValidationError, match="out of range"):
            INSTANT.validate_python(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(8999, 12, 31)))
def test_a_time_without_an_offset_is_utc_except_where_one_is_required(value: datetime) -> None:
    assert INSTANT.validate_python(value.isoformat()) == value.replace(tzinfo=UTC)
    with pytest.raises(ValidationError):
        AWARE.validate_python(value.isoformat())


@pytest.mark.parametrize("text", ["0.5", "1700000000", "", "AAA", "yesterday", "12-01-2026"])
def test_only_iso_text_is_a_time(text: str) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        INSTANT.validate_python(text)
    with pytest.raises(ValidationError):
        DAY.validate_python(text)


@given(st.dates())
def test_days_are_bounded(value: date) -> None:
    if fep_deps.FIRST_YEAR <= value.year <= fep_deps.LAST_YEAR:
        assert DAY.validate_python(value.isoformat()) == value
        assert value - timedelta(days=400) < value  # the window the traffic route counts back stays in range
    else:
        with pytest.raises(ValidationError, match="out of range"):
            DAY.validate_python(value.isoformat())


def test_instants_are_documented_with_their_range() -> None:
    schema = INSTANT.json_schema()
    assert schema["format"] == "date-time" and re.match(schema["pattern"], "1900-01-01T00:00:00Z")
    assert not re.match(schema["pattern"], "1899-12-31T00:00:00Z")
    assert not re.match(schema["pattern"], "9000-01-01T00:00:00Z")


@given(st.text(max_size=50), st.integers(0, 50), st.sampled_from(["\x00", "\x01", "\x1b", "\x7f"]))
def test_free_text_in_bodies_refuses_control_characters(text: str, at: int, control: str) -> None:
    bad = text[:at] + control + text[at:]
    ok = "".join(ch for ch in text if ch.isprintable()) or "fine"
    for model, field, extra in ((Transition, "note", {"to": "resolved"}), (Mark, "reason", {}),
                                (KeyRule, "customer_category", {}),
                                (Edit, "reason", {"data_time": "2026-01-01T00:00:00Z", "value": 1.0})):
        with pytest.raises(ValidationError):
            model.model_validate({**extra, field: bad + "xyz"})
        assert getattr(model.model_validate({**extra, field: ok + "xyz"}), field) == ok + "xyz"


def test_an_edited_value_is_a_number() -> None:
    base = {"data_time": "2026-01-01T00:00:00Z", "reason": "read on site"}
    assert Edit.model_validate({**base, "value": 3}).value == 3.0
    for bad in (False, "3", float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            Edit.model_validate({**base, "value": bad})


@pytest.mark.parametrize(("app", "url"), [
    ("validator", "/api/v1/anomalies?until=1318-01-29T12:17:50-14:54"),
    ("validator", "/api/v1/statistics/rules?since=0.5"),
    ("validator", "/api/v1/meters/M1/items/energy/audit?data_time=0001-01-01T00:00:00%2B01:00"),
    ("validator", "/api/v1/anomalies?rule=spike%00"),
    ("validator", "/api/v1/anomalies/M1%00x"),
    ("validator", "/api/v1/rules/effective?utility=water%00"),
    ("validator", "/api/v1/rules/overrides/global/*/spike%00"),
    ("fep", "/api/v1/terminals?replica=fep%00a"),
    ("fep", "/api/v1/terminals?offset=99999999999999999999999"),
    ("fep", "/api/v1/terminals/0101-00001/traffic?last=0001-01-01"),
    ("fep", "/api/v1/terminals/0101-00001/traffic?first=0"),
])
def test_what_schemathesis_and_its_kin_sent_is_a_422(app: str, url: str) -> None:
    client = TestClient(APPS[app])
    method = "DELETE" if "/overrides/" in url else "GET"
    resp = client.request(method, url, headers=ADMIN)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"] == "request validation failed" and resp.json()["errors"]
