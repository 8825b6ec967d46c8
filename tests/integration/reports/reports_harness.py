"""The reports service on its real sources: analytics and the archive each under a real uvicorn, fed
through their real paths (the archive's master-data import, which the archive publishes on the bus for
analytics; validated readings, device events and anomalies published on the bus), and the reports
service in the test loop calling them over HTTP.

The world (the truth the tests check the reports against), local time Asia/Shanghai:
* regions RPT-R (city) with districts RPT-R-1 and RPT-R-2; company RPT-CO; six electricity meters
  M1..M6, M1..M3 in district 1, M4..M6 in district 2; M1, M2, M4 residential (e_residential), the others
  low-voltage single-phase (e_lv_single_phase);
* a daily main-register value at local midnight from 2026-01-01 to 2026-03-01: the usage of meter i on
  day d is ``used(i, d)``;
* device events on 2026-02-10 and anomalies on 2026-02-11 of some of the meters.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from fastapi import FastAPI

from emms_devstack.ports import free_port
from emms_messages.events import Anomaly, DeviceEvent, EventClass
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

TZ = ZoneInfo("Asia/Shanghai")
TERMINAL = "7700000100"  # the concentrator RPT-T by its address, as events name it
E = "energy.active.import.total"
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 1)
METERS = [f"RPT-M{i}" for i in range(1, 7)]
RESIDENTIAL = {"RPT-M1", "RPT-M2", "RPT-M4"}
ADMIN = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'admin-r', 'admin')}"}


def bearer(role: str, **scope: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), f'{role}-r', role, **scope)}"}


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def index(meter: str) -> int:
    return int(meter.rsplit("M", 1)[1])


def district(meter: str) -> str:
    return "RPT-R-1" if index(meter) <= 3 else "RPT-R-2"


def category(meter: str) -> str:
    return "e_residential" if meter in RESIDENTIAL else "e_lv_single_phase"


def used(meter: str, d: date) -> float:
    """The truth: meter's usage on local day ``d``."""
    return float(index(meter) * 10 + d.toordinal() % 5) + 0.25


def usage(meters: list[str], start: date, end: date) -> float:
    return sum(used(m, d) for m in meters for d in days(start, end))


def point(meter: str) -> str:
    return f"{meter}-P"


EVENT_DAY = datetime(2026, 2, 10, 9, tzinfo=TZ)
EVENTS = [(TERMINAL, "RPT-M1", "ERC13", EventClass.IMPORTANT), (TERMINAL, "RPT-M1", "ERC14", EventClass.NORMAL),
          (TERMINAL, "RPT-M4", "ERC14", EventClass.NORMAL), (TERMINAL, None, "ERC14", EventClass.IMPORTANT),
          (TERMINAL, "RPT-M5", "ERC33", EventClass.NORMAL)]
ANOMALY_DAY = datetime(2026, 2, 11, 3, tzinfo=TZ)
ANOMALIES = [("RPT-M2", "zero_usage", EventClass.NORMAL), ("RPT-M3", "reverse_register", EventClass.IMPORTANT),
             ("RPT-M6", "sudden_change", EventClass.NORMAL)]


def events() -> list[DeviceEvent]:
    return [DeviceEvent(terminal=t, meter_id=m, code=code, event_class=cls,
                        occurred_at=EVENT_DAY + timedelta(minutes=7 * i),
                        received_at=EVENT_DAY + timedelta(minutes=7 * i, seconds=30), detail={"n": i})
            for i, (t, m, code, cls) in enumerate(EVENTS)]


def anomalies() -> list[Anomaly]:
    """The same ids every time: each reports module loads its world into the session database, and a second
    copy of an anomaly under another id would be a second row of the abnormal-meter list."""
    return [Anomaly(anomaly_id=f"rpt-anomaly-{i}", meter_id=m, rule=rule, item=E,
                    data_time=ANOMALY_DAY + timedelta(hours=i), severity=sev, values={"i": i},
                    detected_at=ANOMALY_DAY + timedelta(hours=i, minutes=5))
            for i, (m, rule, sev) in enumerate(ANOMALIES)]


def readings() -> list[ValidatedReading]:
    out = []
    for meter in METERS:
        total = 1000.0
        for d in days(FIRST, LAST + timedelta(days=1)):
            out.append(ValidatedReading(meter_id=meter, item=E, data_time=midnight(d), value=total, unit="kWh",
                                        status=ValidationStatus.VALID, validated_at=datetime(2026, 3, 2, tzinfo=UTC)))
            total += used(meter, d)
    return out


def batches(run: str) -> list[ValidatedReadingBatch]:
    rs = readings()
    return [ValidatedReadingBatch(batch_id=f"rpt-{run}-{i}", terminal=TERMINAL, readings=rs[i:i + 300])
            for i in range(0, len(rs), 300)]


MASTERDATA: list[tuple[str, list[dict[str, Any]]]] = [
    ("companies", [{"id": "RPT-CO", "name": "报表供电公司", "utilities": ["electricity"]}]),
    ("regions", [{"id": "RPT-R", "name": "报表市", "level": 1},
                 {"id": "RPT-R-1", "name": "东城区", "parent_id": "RPT-R", "level": 2},
                 {"id": "RPT-R-2", "name": "西城区", "parent_id": "RPT-R", "level": 2}]),
    ("service-areas", [{"company_id": "RPT-CO", "region_id": "RPT-R", "utility": "electricity"}]),
    ("terminals", [{"id": "RPT-T", "kind": "concentrator", "address": TERMINAL, "company_id": "RPT-CO",
                    "region_id": "RPT-R-1"}]),
    ("customer-meters", [{"customer_id": f"RPT-C{index(m)}", "customer_name": f"客户{index(m)}",
                          "utility": "electricity", "category": category(m), "company_id": "RPT-CO",
                          "region_id": district(m), "metering_point_id": point(m), "terminal_id": "RPT-T",
                          "pn": index(m), "meter_id": m, "protocol": "dlt645-2007",
                          "meter_address": f"{770000000000 + index(m)}", "installed_at": "2025-06-01T00:00:00Z"}
                         for m in METERS]),
]


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """An app under a real uvicorn in this loop; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class World:
    run: str
    analytics: httpx.AsyncClient
    archive: httpx.AsyncClient
    reports: httpx.AsyncClient
    state: Any
    analytics_url: str
    archive_url: str
    identity_url: str


def run_id() -> str:
    return secrets.token_hex(3)
