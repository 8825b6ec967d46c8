"""The interface's pure parts: webhook signatures and back-off, idempotency fingerprints, reconciliation,
event ids, and the app's routes (each checks access and declares its response)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from emms_interface.app import create_app
from emms_interface.customers.payments import reconcile
from emms_interface.jobs.model import WorkOrder, body_hash
from emms_interface.settings import InterfaceSettings, WebhookSettings
from emms_interface.upstream import seg
from emms_interface.webhooks import signing
from emms_interface.webhooks.dispatcher import backoff_s
from emms_interface.webhooks.events import event_id, from_job
from emms_runtime.auth.dependencies import routes_without_access
from emms_runtime.instants import Instant


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=60))
def test_a_signature_verifies_with_its_secret_only(body: bytes, secret: str) -> None:
    now = int(time.time())
    header = signing.header([secret], now, body)
    assert signing.verify(header, body, [secret], now=now)
    assert not signing.verify(header, body, [secret + "x"], now=now)
    assert not signing.verify(header, body + b"!", [secret], now=now)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    now = int(time.time())
    header = signing.header(["new", "old"], now, b"{}")
    assert signing.verify(header, b"{}", ["old"], now=now)
    assert signing.verify(header, b"{}", ["new"], now=now)
    assert not signing.verify(header, b"{}", ["other"], now=now)


def test_an_old_signature_is_refused() -> None:
    then = int(time.time()) - 3600
    header = signing.header(["s"], then, b"{}")
    assert not signing.verify(header, b"{}", ["s"], tolerance_s=300)


def test_back_off_doubles_and_is_capped() -> None:
    settings = WebhookSettings(base_backoff_s=2, max_backoff_s=30)
    assert [backoff_s(settings, n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_the_same_body_has_the_same_fingerprint_and_another_not() -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    a = WorkOrder(metering_point_id="mp-1", meter_id="m-1", at=at)
    assert body_hash(a) == body_hash(WorkOrder(metering_point_id="mp-1", meter_id="m-1", at=at))
    assert body_hash(a) != body_hash(WorkOrder(metering_point_id="mp-1", meter_id="m-2", at=at))


def test_event_ids_are_stable_per_fact_and_type() -> None:
    source = uuid.uuid4()
    assert event_id(source, "readings.ready") == event_id(source, "readings.ready")
    assert event_id(source, "readings.ready") != event_id(source, "anomaly.detected")
    job = {"job_id": str(source), "kind": "install", "state": "completed", "reason": "", "idempotency_key": "k",
           "caller": "client:billing", "companies": ["GRID"], "body": {}, "upstream": {}, "result": {}}
    first, again = from_job(job), from_job(dict(job))
    assert first["event_id"] == again["event_id"] and first["event_type"] == "workorder.completed"
    assert first["owner"] == "client:billing"


def test_reconciliation_names_what_is_missing_or_different() -> None:
    ours = [{"payment_id": "p1", "account_id": "a", "amount": Decimal("10.00"), "state": "recorded"},
            {"payment_id": "p2", "account_id": "a", "amount": Decimal("5.00"), "state": "pending"},
            {"payment_id": "p3", "account_id": "a", "amount": Decimal("7.00"), "state": "recorded"},
            {"payment_id": "p4", "account_id": "a", "amount": Decimal("1.00"), "state": "refused"}]
    theirs = [{"payment_id": "p1", "account_id": "a", "amount": "10.00"},
              {"payment_id": "p3", "account_id": "a", "amount": "7.50"},
              {"payment_id": "cash-1", "account_id": "a", "amount": "20.00", "method": "cash"}]
    out = reconcile("c-1", ours, theirs)
    assert [m["payment_id"] for m in out["matched"]] == ["p1"]
    assert [m["payment_id"] for m in out["missing_in_control"]] == ["p2"]
    assert [m["payment_id"] for m in out["amount_mismatch"]] == ["p3"]
    assert [m["payment_id"] for m in out["control_only"]] == ["cash-1"]
    assert out["balanced"] is False


def test_every_route_checks_access_and_declares_its_response() -> None:
    app = create_app(InterfaceSettings())
    assert routes_without_access(app) == []
    document = app.openapi()
    operations = [(path, method, op) for path, ops in document["paths"].items() if path.startswith("/api/v1/")
                  and not path.startswith("/api/v1/service") for method, op in ops.items()]
    assert len(operations) >= 20
    for path, method, op in operations:
        assert "x-emms-permission" in op, (method, path)
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        assert ok.get("content"), (method, path)


@given(st.text(min_size=1, max_size=40))
def test_a_callers_id_stays_one_segment_of_the_owners_url(value: str) -> None:
    """A customer id with ``/``, ``?``, ``..`` or a control character (the fuzzer's ``d\\x05a``) is one valid
    segment of the owner's URL, never another path or an invalid URL (a 500)."""
    url = httpx.URL(f"http://archive/api/v1/customers/{seg(value)}")
    assert url.path.startswith("/api/v1/customers/") and url.query == b""
    assert url.raw_path.decode().removeprefix("/api/v1/customers/") == seg(value)
    assert unquote(seg(value)) == value


def test_times_out_of_range_are_refused_not_stored() -> None:
    """A notice valid from year 1 came back from the database without its zone (the fuzzer): refused now."""
    adapter = TypeAdapter(Instant)
    assert adapter.validate_python("2026-12-08T00:00:00+08:00").year == 2026
    for bad in ("0001-01-01T00:00:00.0+00:00", "3000-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"):
        with pytest.raises(ValidationError, match=r"between 1970 and 2999|out of range"):
            adapter.validate_python(bad)
