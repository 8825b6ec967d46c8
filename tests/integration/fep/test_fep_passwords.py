"""Per-terminal passwords end to end: archive (master data) → bus → FEP → simulator, over real sockets.

The archive and a FEP replica run in the test loop on the real broker and database; the simulator
(its own process) runs concentrators that each expect their own PW (``--terminal-passwords``, listed
in its manifest). The tests run in order and share one fleet:

1. the manifest's PWs are imported into master data; a command to a terminal succeeds with its own PW;
2. a wrong PW in master data: the terminal denies the command (the FEP's result says ``denied``);
3. a rotation (AFN04 F5 sent with the PW in force) switches master data on the terminal's confirm;
   commands then work with the new PW and the old one (stale) is denied;
4. a rotation with a wrong PW in force is denied by the terminal: reported failed, the old PW stays;
5. no PW — neither the simulator's nor one set or rotated here — appears in the services' log output,
   in any API response, or in clear on the bus (master-data changes, downlink requests and results).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fep_harness import BusWatch, Replica, until
from service_harness import FreshBearer, in_process

from emms_archive.app import create_app as create_archive
from emms_archive.runtime import ArchiveRuntime
from emms_archive.settings import ArchiveSettings
from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome
from emms_runtime.logging_setup import configure_logging

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
FIRST_TERMINAL = 7101  # A2 of the fleet: no other FEP test module uses these addresses
SEED = 29


def _headers(role: str, *, step_up: bool = False) -> FreshBearer:
    return FreshBearer(f"{role}-pw", role, step_up=step_up)


ADMIN = _headers("admin")
STEP_UP_OPERATOR = _headers("operator", step_up=True)


class LogCapture(logging.Handler):
    """Every log record of the process, formatted as the services print them (JSON)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is kept as its message
            self.lines.append(str(record.msg))


@dataclass
class Seen:
    """What the test saw: API response bodies and bus payloads (as JSON)."""

    responses: list[str] = field(default_factory=list)
    bus: list[str] = field(default_factory=list)

    async def handle(self, batch: Sequence[Delivery]) -> None:
        self.bus.extend(d.payload.model_dump_json() for d in batch)


@dataclass
class Stack:
    archive: ArchiveRuntime
    api: httpx.AsyncClient
    fep: Replica
    watch: BusWatch
    producer: BusProducer
    terminals: list[dict[str, Any]]
    seen: Seen
    logs: LogCapture
    secrets: set[str] = field(default_factory=set)
    """Every PW (hex) of the test: none may leak."""

    async def call(self, method: str, url: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        resp = await self.api.request(method, url, headers=headers, **kw)
        self.seen.responses.append(resp.text)
        return resp


@pytest.fixture(scope="module")
def captured_logs() -> Iterator[LogCapture]:
    """The services' log output, as JSON lines, at DEBUG (structlog bridged to stdlib as in production)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", json=True)
    capture = LogCapture()
    capture.setFormatter(root.handlers[0].formatter)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture(scope="module")
def fleet(replica: Replica, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    """Three concentrators with their own PWs dialling the replica; the manifest's terminal entries."""
    manifest = tmp_path_factory.mktemp("sim-pw") / "fleet.json"
    command = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{replica.port}",
               "--concentrators", "3", "--meters-per", "2", "--seed", str(SEED), "--mix", "electricity=100",
               "--quiet-field", "--heartbeat-s", "1", "--first-terminal", str(FIRST_TERMINAL),
               "--terminal-passwords", "--manifest", str(manifest)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not manifest.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, f"the simulator stopped: {process.stdout.read() if process.stdout else ''}"
        yield json.loads(manifest.read_text())["terminals"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
async def stack(database_url: str, kafka_settings: KafkaSettings, replica: Replica,
                bus: tuple[BusWatch, BusProducer], fleet: list[dict[str, Any]],
                captured_logs: LogCapture) -> AsyncIterator[Stack]:
    settings = ArchiveSettings(database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                               environment="test", shutdown_grace_s=2.0)
    seen = Seen()
    consumer = BusConsumer(kafka_settings, group=f"fep-pw-watch-{secrets.token_hex(3)}",
                           topics=["emms.masterdata.change.v1", "emms.downlink.request.v1",
                                   "emms.downlink.result.v1"],
                           handler=seen.handle, dlq_producer=bus[1], max_batch=5000)
    stop = asyncio.Event()
    watcher = asyncio.create_task(consumer.run(stop))
    try:
        async with in_process(create_archive(settings), "http://archive", role="admin") as (_app, archive, api):
            assert isinstance(archive, ArchiveRuntime)
            s = Stack(archive, api, replica, bus[0], bus[1], fleet, seen, captured_logs,
                      {t["password_hex"] for t in fleet})
            await _seed_terminals(s)
            await until(lambda: all(replica.fep.sessions.get(t["key"]) is not None for t in fleet), 30)
            yield s
    finally:
        stop.set()
        await watcher


async def _seed_terminals(s: Stack) -> None:
    run = secrets.token_hex(3)
    company, region = f"CO-PW-{run}", f"R-PW-{run}"
    for kind, rows in (("companies", [{"id": company, "name": "PW utility", "utilities": ["electricity"]}]),
                       ("regions", [{"id": region, "name": "PW city", "level": 1}]),
                       ("terminals", [{"id": _tid(t), "kind": "concentrator", "address": t["key"],
                                       "company_id": company, "region_id": region} for t in s.terminals])):
        resp = await s.call("POST", f"/api/v1/import/{kind}", ADMIN, json=rows)
        assert resp.status_code == 200, resp.text


def _tid(terminal: dict[str, Any]) -> str:
    return f"T-PW-{terminal['key']}"


async def _command(s: Stack, terminal: dict[str, Any]) -> tuple[RequestOutcome, str]:
    """AFN05 F31 (time sync: carries the PW, changes nothing the tests look at) and its outcome."""
    request = DownlinkRequest(request_id=f"pw-{secrets.token_hex(5)}", terminal=terminal["key"], afn=0x05,
                              units=[DataUnitRequest(pn=[0], fn=[31], data={"value": "now"})],
                              requested_by="pw-test", timeout_s=3.0, retries=0, priority=0)
    await s.producer.publish(request)
    result = await s.watch.wait_result(request.request_id, 20)
    return result.outcome, result.detail


async def _fep_version(s: Stack, terminal: dict[str, Any], version: int) -> None:
    await until(lambda: s.fep.fep.passwords.version(terminal["key"]) == version, 20)


async def _status(s: Stack, terminal: dict[str, Any]) -> dict[str, Any]:
    resp = await s.call("GET", f"/api/v1/terminal-passwords/{_tid(terminal)}", ADMIN)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_command_with_the_terminals_own_password_succeeds(stack: Stack) -> None:
    s = stack
    first = s.terminals[0]
    outcome, detail = await _command(s, first)  # nothing in master data yet: the default (zeros) is refused
    assert outcome is RequestOutcome.DENIED, detail
    rows = [{"terminal_id": _tid(t), "password_hex": t["password_hex"]} for t in s.terminals]
    resp = await s.call("POST", "/api/v1/terminal-passwords/import", ADMIN, json=rows)
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == len(s.terminals)
    for t in s.terminals:
        await _fep_version(s, t, 1)
    outcome, detail = await _command(s, first)
    assert outcome is RequestOutcome.ANSWERED, detail
    status = await _status(s, first)
    assert status["has_password"] and status["version"] == 1 and status["how"] == "import"


async def test_a_wrong_password_is_denied_by_the_terminal(stack: Stack) -> None:
    s = stack
    second = s.terminals[1]
    wrong = secrets.token_hex(16)
    s.secrets.add(wrong)
    resp = await s.call("PUT", f"/api/v1/terminal-passwords/{_tid(second)}", ADMIN, json={"password_hex": wrong})
    assert resp.status_code == 200, resp.text
    await _fep_version(s, second, 2)
    outcome, detail = await _command(s, second)
    assert outcome is RequestOutcome.DENIED, detail
    outcome, detail = await _command(s, s.terminals[2])  # its neighbour, with its own, is unaffected
    assert outcome is RequestOutcome.ANSWERED, detail


async def test_rotation_switches_master_data_on_the_terminals_confirm(stack: Stack) -> None:
    s = stack
    first = s.terminals[0]
    new = secrets.token_hex(16)
    s.secrets.add(new)
    url = f"/api/v1/terminal-passwords/{_tid(first)}/rotations"
    refused = await s.call("POST", url, ADMIN, json={"password_hex": new})  # no fresh password check
    assert refused.status_code == 403, refused.text
    resp = await s.call("POST", url, STEP_UP_OPERATOR, json={"password_hex": new})
    assert resp.status_code == 202, resp.text
    assert resp.json()["from_version"] == 1 and resp.json()["terminal"] == first["key"]
    await _fep_version(s, first, 2)
    status = await _status(s, first)
    assert status["version"] == 2 and status["how"] == "rotation"
    assert status["rotations"][0]["state"] == "confirmed" and status["rotations"][0]["to_version"] == 2
    outcome, detail = await _command(s, first)
    assert outcome is RequestOutcome.ANSWERED, detail
    # the old PW is stale now: put back in master data, the terminal refuses it
    stale = await s.call("PUT", f"/api/v1/terminal-passwords/{_tid(first)}", ADMIN,
                         json={"password_hex": first["password_hex"]})
    assert stale.status_code == 200, stale.text
    await _fep_version(s, first, 3)
    outcome, detail = await _command(s, first)
    assert outcome is RequestOutcome.DENIED, detail


async def test_a_failed_rotation_keeps_the_old_password(stack: Stack) -> None:
    s = stack
    second = s.terminals[1]  # master data holds a wrong PW for it (test 2): the terminal refuses the F5
    new = secrets.token_hex(16)
    s.secrets.add(new)
    resp = await s.call("POST", f"/api/v1/terminal-passwords/{_tid(second)}/rotations", STEP_UP_OPERATOR,
                        json={"password_hex": new})
    assert resp.status_code == 202, resp.text

    async def failed() -> bool:
        rotations = (await _status(s, second))["rotations"]
        return bool(rotations) and rotations[0]["state"] == "failed"

    for _ in range(200):
        if await failed():
            break
        await asyncio.sleep(0.1)
    status = await _status(s, second)
    assert status["rotations"][0]["state"] == "failed" and status["rotations"][0]["outcome"] == "denied"
    assert status["version"] == 2  # unchanged: the PW in force stays
    assert s.fep.fep.passwords.version(second["key"]) == 2
    # the terminal kept its own PW too: put it back in master data and commands work again
    fixed = await s.call("PUT", f"/api/v1/terminal-passwords/{_tid(second)}", ADMIN,
                         json={"password_hex": second["password_hex"]})
    assert fixed.status_code == 200, fixed.text
    await _fep_version(s, second, 3)
    outcome, detail = await _command(s, second)
    assert outcome is RequestOutcome.ANSWERED, detail


async def test_no_password_in_logs_responses_or_the_bus_in_clear(stack: Stack) -> None:
    s = stack
    audit = await s.call("GET", "/api/v1/audit?entity=terminal_password&limit=1000", ADMIN)
    assert audit.status_code == 200, audit.text
    mine = [r for r in audit.json() if r["entity_id"].startswith("T-PW-")]
    actions = {r["action"] for r in mine}
    assert {"created", "updated", "rotation_requested", "rotation_failed"} <= actions
    assert all(r["after"]["password"] == "changed" for r in mine if r["action"] in ("created", "updated"))
    await until(lambda: sum('"entity":"terminal_password"' in m for m in s.seen.bus) >= 7, 10)
    assert any("password_sealed" in m for m in s.seen.bus)
    assert s.logs.lines, "no log output captured"
    assert any("terminal password rotat" in line for line in s.logs.lines)
    for secret in s.secrets:
        raw = bytes.fromhex(secret)
        for where, texts in (("logs", s.logs.lines), ("API responses", s.seen.responses), ("bus", s.seen.bus)):
            leaked = [t[:200] for t in texts if secret in t.lower() or raw.hex().upper() in t]
            assert not leaked, f"a terminal password in the {where}: {leaked[:3]}"
