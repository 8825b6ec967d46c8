"""A work order end to end against the simulator, on real processes: the simulator's fleet speaks real frames
to the FEP, the collector and the archive run as processes; the validator and the interface in the test's
loop; the callback goes to a real receiver over loopback.

order → install in the archive's master data → the collector pushes the concentrator's measurement-point
table (AFN04 F10, confirmed and read back: the concentrator had lost the record before the order) → the
interface asks the collector to read the new meter → collector → FEP → simulated concentrator → raw reading →
validator → validated reading → the work order completes with that first reading, equal to the simulator's
truth → signed webhook.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from interface_harness import Receiver, eventually
from service_harness import FreshBearer, own_database

from emms_bus import KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_interface.app import create_app
from emms_interface.settings import InterfaceSettings, JobSettings, UpstreamSettings, WebhookSettings

for _dir in ("e2e", "integration/validator"):
    _path = str(Path(__file__).resolve().parents[2] / _dir)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from test_e2e_collection_stack import Stack, http, stack_env  # noqa: E402  (after the path)
from validator_harness import running_validator, validator_settings  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
CLIENT = FreshBearer("billing-system", "integrator")


async def _http(method: str, url: str, body: object = None) -> tuple[int, object]:
    return await asyncio.to_thread(http, method, url, body)


async def _async(value: object) -> object:
    return value


@pytest.fixture
def order_database(database_url: str) -> Iterator[str]:
    """A database of the test's own: other stacks of the session (same simulator seed, same terminal keys)
    leave their terminals' parameters, pushes and classes in the session database's collector schema."""
    yield from own_database(database_url, "work_order")


async def test_a_work_order_ends_with_the_new_meters_first_reading_from_the_field(
        service_env: dict[str, str], kafka_settings: KafkaSettings, order_database: str, tmp_path: Path) -> None:
    database_url = order_database
    stack = Stack(stack_env({**service_env, "EMMS_DATABASE_URL": database_url,
                             "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix}), tmp_path, concentrators=2,
                  meters_per=3, with_archive=True)
    stack.start()
    receiver = Receiver()
    await receiver.up()
    try:
        archive = f"http://127.0.0.1:{stack.ports['archive']}"
        # a meter of the second concentrator: the first one's meter ids (m-000000-…) are placed on their own
        # points by other tests of this database (the heat and curve tests import them into the archive)
        meter = next(m for m in stack.manifest_meters() if m["utility"] == "electricity" and not m["added_later"]
                     and m["meter_id"].startswith("m-000001-"))
        run = secrets.token_hex(3)
        # master data: the customer's point with a placeholder meter taken off, and the field's meter unplaced
        steps = [
            ("companies", [{"id": f"CO-{run}", "name": "Company", "utilities": ["electricity"]}]),
            ("regions", [{"id": f"R-{run}", "name": "City", "level": 1}]),
            ("service-areas", [{"company_id": f"CO-{run}", "region_id": f"R-{run}", "utility": "electricity"}]),
            ("terminals", [{"id": f"T-{run}", "kind": "concentrator", "address": meter["terminal"],
                            "company_id": f"CO-{run}", "region_id": f"R-{run}"}]),
            ("customer-meters", [{"customer_id": f"C-{run}", "customer_name": "Customer", "utility": "electricity",
                                  "category": "e_residential", "company_id": f"CO-{run}", "region_id": f"R-{run}",
                                  "metering_point_id": f"MP-{run}", "terminal_id": f"T-{run}", "pn": meter["pn"],
                                  "meter_id": f"OLD-{run}", "protocol": meter["protocol"],
                                  "meter_address": "999999999999", "installed_at": "2026-01-01T00:00:00Z"}]),
            ("meters", [{"id": meter["meter_id"], "utility": "electricity", "protocol": meter["protocol"],
                         "address": meter["address"], "company_id": f"CO-{run}"}]),
        ]
        for kind, rows in steps:
            status, body = await _http("POST", f"{archive}/api/v1/import/{kind}", rows)
            assert status == 200, (kind, body)
        status, body = await _http("POST", f"{archive}/api/v1/metering-points/MP-{run}/remove-meter",
                                   {"at": "2026-06-01T00:00:00Z"})
        assert status == 200, body
        await eventually(lambda: _async(stack.online_terminals() == 2), 60, 0.5)

        async def table_pns() -> set[int]:
            status, body = await _http("GET", f"{stack.sim}/terminals/{meter['terminal']}/params")
            assert status == 200, body
            return {int(r["pn"]) for r in body["table"]}

        # the concentrator's table loses the meter's record (a field change): it is read through it no more
        # once the placeholder's removal has been pushed; the work order's installation must put it back
        status, body = await _http("POST", f"{stack.sim}/terminals/{meter['terminal']}/params", {"fn": 10, "value": {
            "type": "MeterConfig", "records": [
                {"type": "MeterRecord", "serial": meter["pn"], "pn": 0, "port": 31, "baud": 0, "protocol": 30,
                 "address": "000000000000", "password": "000000000000", "tariffs": 4, "integer_digits": 6,
                 "decimal_digits": 2, "collector": "000000000000", "big_class": 0, "small_class": 0}]}})
        assert status == 200, body

        async def record_gone() -> bool:
            return meter["pn"] not in await table_pns()

        await eventually(record_gone, 30, 0.5)

        settings = InterfaceSettings(
            _env_file=None, environment="test", database=DatabaseSettings(url=database_url),  # type: ignore[call-arg]
            kafka=kafka_settings, shutdown_grace_s=5.0,
            upstream=UpstreamSettings(archive_url=archive, collector_url=stack.collector),
            webhooks=WebhookSettings(base_backoff_s=0.2, max_backoff_s=1.0, poll_s=0.2),
            jobs=JobSettings(poll_s=0.5, first_read_every_s=3.0))
        app = create_app(settings)
        async with running_validator(validator_settings(database_url, kafka_settings)), \
                app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://interface",
                                  timeout=60) as client:
            resp = await client.post("/api/v1/webhooks/subscriptions", headers=CLIENT,
                                     json={"url": receiver.url, "events": ["workorder.completed"]})
            receiver.secrets.append(resp.json()["secret"])
            at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
            order = await client.post("/api/v1/jobs/work-orders/install", headers={**CLIENT, "Idempotency-Key": run},
                                      json={"metering_point_id": f"MP-{run}", "meter_id": meter["meter_id"],
                                            "at": at.isoformat(), "order_ref": f"WO-{run}"})
            assert order.status_code == 201, order.text
            job_id = order.json()["job_id"]

            async def completed() -> dict | None:
                body = (await client.get(f"/api/v1/jobs/{job_id}", headers=CLIENT)).json()
                return body if body["state"] == "completed" else None

            async def record_back() -> bool:
                status, body = await _http("GET", f"{stack.sim}/terminals/{meter['terminal']}/params")
                return status == 200 and any(int(r["pn"]) == meter["pn"] and r["address"] == meter["address"][-12:]
                                             for r in body["table"])

            await eventually(record_back, 60, 0.5)  # the collector's F10 push reached the concentrator
            done = await eventually(completed, 120, 0.5)
            first = done["result"]["first_reading"]
            assert first["meter_id"] == meter["meter_id"] and first["raw_source"] == "manual"
            status, truth = await _http("GET", f"{stack.sim}/truth?meter={meter['meter_id']}&item={first['item']}"
                                               f"&at={quote(first['data_time'])}")
            assert status == 200 and first["value"] == pytest.approx(truth["value"], abs=0.011)
            await eventually(lambda: _async(any(d["body"]["data"]["job_id"] == job_id
                                                for d in receiver.deliveries)), 30)
            (delivery,) = [d for d in receiver.deliveries if d["body"]["data"]["job_id"] == job_id]
            assert delivery["body"]["data"]["state"] == "completed"
            assert delivery["body"]["data"]["result"]["first_reading"] == first
            assert receiver.bad_signatures == 0
    finally:
        await receiver.down()
        stack.stop()
