"""Every service of EMMS served over HTTP for the API fuzzer, on a database and topics of its own.

Each service's app is built from its settings as ``make up`` builds it (``create_app(Settings)``),
started with its whole lifespan (pool, migrations, bus, workers) and served by uvicorn on a free
port of 127.0.0.1. All of them run in one event loop of a serving process of their own (this
file run as a script), which ends when the fuzzing process does.

The database is a private one (``<session database>_fuzz_<hex>``, dropped afterwards) and the
topics have a prefix of their own: the fuzzer deletes companies, makes backups and edits rules,
none of which may reach the other tests' data. Quotas are off (the fuzzer is one caller sending
thousands of requests a minute); tokens are development tokens (``emms-token``'s key).

A service joins by one row in :data:`SERVICES`; a row whose ``<module>.app`` does not import
(a service not yet in this tree) is left out, so the identity service is fuzzed once it exists.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

# name → (package, settings class, settings beyond the database, bus and auth)
SERVICES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "archive": ("emms_archive", "ArchiveSettings", {}),
    "collector": ("emms_collector", "CollectorSettings", {}),
    "validator": ("emms_validator", "ValidatorSettings", {}),
    "front-end-processor": ("emms_fep", "FepSettings", {"terminals": {"host": "127.0.0.1", "port": 0}}),
    "control": ("emms_control", "ControlSettings", {}),
    "analytics": ("emms_analytics", "AnalyticsSettings", {}),
    "operations": ("emms_operations", "OperationsSettings", {"services": {}}),
    "identity": ("emms_identity", "IdentitySettings", {
        "hashing": {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1},
        "throttle": {"per_address": 1_000_000, "per_username": 1_000_000, "per_client": 1_000_000}}),
    "interface": ("emms_interface", "InterfaceSettings", {}),
    "reports": ("emms_reports", "ReportsSettings", {}),
}
UPSTREAMS: dict[str, dict[str, str]] = {
    "interface": {"archive_url": "archive", "collector_url": "collector", "control_url": "control",
                  "analytics_url": "analytics"},
    "reports": {"archive_url": "archive", "analytics_url": "analytics"},
}
"""``<service>.upstream.<setting>`` → the service of the stack it names (built before it, in SERVICES' order)."""

FUZZ_AUTH = AuthSettings(jwks_url=None, accept_dev_tokens=True, enforce_quotas=False)

# Master data of two companies, imported into the archive as a utility's source system would; the
# archive publishes the installations, which is how the collector, validator and FEP learn them.
COMPANIES = ("FZA", "FZB")


def master_data() -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        ("companies", [{"id": c, "name": f"Fuzz utility {c}"} for c in COMPANIES]),
        ("regions", [{"id": f"{c}-R", "name": f"Fuzz city {c}"} for c in COMPANIES]),
        ("service-areas", [{"company_id": c, "region_id": f"{c}-R", "utility": u}
                           for c in COMPANIES for u in ("electricity", "water")]),
        ("terminals", [{"id": f"T-{c}1", "kind": "concentrator", "address": f"9{i}000001", "company_id": c,
                        "region_id": f"{c}-R"} for i, c in enumerate(COMPANIES)]),
        ("customer-meters", [
            {"customer_id": f"{c}-C{n}", "customer_name": f"{c} customer {n}", "utility": utility,
             "category": category, "company_id": c, "region_id": f"{c}-R", "metering_point_id": f"{c}-P{n}",
             "terminal_id": f"T-{c}1", "pn": n, "meter_id": f"{c}-M{n}", "protocol": protocol,
             "meter_address": f"77{i}00{n}", "installed_at": "2026-01-01T00:00:00Z"}
            for i, c in enumerate(COMPANIES)
            for n, (utility, category, protocol) in enumerate(
                [("electricity", "e_lv_single_phase", "dlt645-2007"),
                 ("electricity", "e_residential", "dlt645-2007"),
                 ("water", "w_residential", "cjt188-2004")], start=1)]),
    ]


# Values of the seeded rows for path parameters, so that a share of the generated requests reach
# real rows (their answers are then checked against the response schemas on real data).
# Keyed by the path's collection (the segment before the parameter) and then by the parameter's name.
KNOWN_BY_COLLECTION: dict[str, dict[str, str]] = {
    "companies": {"key": "FZA"},
    "regions": {"key": "FZA-R"},
    "service-areas": {"key": "FZA/FZA-R/electricity"},
    "terminals": {"key": "T-FZA1", "terminal": "9000-00001"},
    "customers": {"key": "FZA-C1"},
    "meters": {"key": "FZA-M1", "meter_id": "FZA-M1"},
    "metering-points": {"key": "FZA-P1", "point_id": "FZA-P1"},
    "import": {"kind": "customer-meters"},
    "sync": {"kind": "customer-meters"},
}
KNOWN_BY_NAME: dict[str, str] = {
    "meter_id": "FZA-M1", "point_id": "FZA-P1", "customer_id": "FZA-C1", "terminal": "9000-00001",
    "terminal_id": "T-FZA1", "item": "energy_active_import_total", "scope": "meter", "scope_value": "FZA-M1",
}


def known_path_values(path: str, names: Iterable[str]) -> dict[str, str]:
    """Seeded values for the path parameters ``names`` of ``path`` (those that have one)."""
    segments = path.strip("/").split("/")
    found: dict[str, str] = {}
    for name in names:
        marker = f"{{{name}}}"
        if marker not in segments:
            continue
        index = segments.index(marker)
        by_collection = KNOWN_BY_COLLECTION.get(segments[index - 1], {}) if index else {}
        value = by_collection.get(name, KNOWN_BY_NAME.get(name))
        if value is not None:
            found[name] = value
    return found


def available_services() -> list[str]:
    """The rows of :data:`SERVICES` whose app imports in this tree."""
    names = []
    for name, (package, _cls, _extra) in SERVICES.items():
        try:
            module = importlib.import_module(f"{package}.app")
        except ModuleNotFoundError:
            continue
        if hasattr(module, "create_app"):
            names.append(name)
    return names


def build_app(name: str, db_url: str, kafka: KafkaSettings, backup_dir: Path,
              urls: dict[str, str] | None = None) -> FastAPI:
    """The service's app; ``urls`` (the stack's services served so far) become its upstream URLs."""
    package, class_name, extra = SERVICES[name]
    settings_cls = getattr(importlib.import_module(f"{package}.settings"), class_name)
    values: dict[str, Any] = {"environment": "test", "database": DatabaseSettings(url=db_url), "kafka": kafka,
                              "auth": FUZZ_AUTH, "shutdown_grace_s": 2.0, **extra}
    if name == "archive":
        values["backup"] = {"directory": backup_dir}
    if name == "reports":
        values["delivery"] = {"store_dir": backup_dir.parent / "reports"}
    upstream = {key: (urls or {})[owner] for key, owner in UPSTREAMS.get(name, {}).items() if owner in (urls or {})}
    if upstream:
        values["upstream"] = upstream
    settings = settings_cls(_env_file=None, **values)
    app: FastAPI = importlib.import_module(f"{package}.app").create_app(settings)
    return app


class Token:
    """A development admin token with a fresh step-up, renewed before services would call it stale."""

    def __init__(self, role: str = "admin", renew_after_s: float = 120.0) -> None:
        self.role = role
        self.renew_after_s = renew_after_s
        self._value = ""
        self._at = 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self._at > self.renew_after_s:
            self._value = issue_token(AuthSettings(), "fuzz", self.role, step_up=True)
            self._at = time.monotonic()
        return {"Authorization": f"Bearer {self._value}"}


class _Services:
    """The services on one event loop in a thread of the serving process (see :func:`serve`)."""

    def __init__(self, names: list[str], db_url: str, kafka: KafkaSettings, backup_dir: Path) -> None:
        self.names, self.db_url, self.kafka, self.backup_dir = names, db_url, kafka, backup_dir
        self.urls: dict[str, str] = {}
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-services", daemon=True)

    def start(self, timeout_s: float) -> None:
        self._thread.start()
        if not self.ready.wait(timeout_s):
            raise TimeoutError(f"the services did not start within {timeout_s} s")
        if self.error is not None:
            raise RuntimeError(f"the services did not start: {self.error!r}") from self.error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.error = self.error or exc
        finally:
            self.ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await ensure_topics(self.kafka)
        async with AsyncExitStack() as stack:
            servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
            for name in self.names:
                app = build_app(name, self.db_url, self.kafka, self.backup_dir, self.urls)
                await stack.enter_async_context(app.router.lifespan_context(app))
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                                       access_log=False, timeout_keep_alive=60))
                servers.append((server, asyncio.create_task(server.serve(sockets=[sock]))))
                self.urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            while not all(s.started for s, _ in servers):
                if any(t.done() for _, t in servers):
                    raise RuntimeError("a server stopped while starting")
                await asyncio.sleep(0.05)
            self.ready.set()
            await self._stop.wait()
            for server, _ in servers:
                server.should_exit = True
            await asyncio.gather(*(t for _, t in servers), return_exceptions=True)


def serve(config: dict[str, Any]) -> None:
    """The serving process: start the services, write their URLs to ``config["ready_file"]``, and
    stop them at SIGTERM or when stdin closes (the fuzzing process ended, however it ended)."""
    services = _Services(config["services"], config["db_url"], KafkaSettings(**config["kafka"]),
                         Path(config["backup_dir"]))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        stopped.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        services.start(config["start_timeout_s"])
        Path(config["ready_file"]).write_text(json.dumps(services.urls))
        stopped.wait()
    finally:
        services.stop()


@dataclass
class FuzzStack:
    """Every service served by a process of its own, on a private database: ``with FuzzStack(…) as s``.

    The services run in another process so that they and the fuzzer (Hypothesis drawing cases is
    CPU work) do not take turns on one interpreter lock; that process ends with this one."""

    database_url: str
    """The server's session database; the stack makes ``<it>_fuzz_<hex>`` and drops it afterwards."""
    kafka: KafkaSettings
    work_dir: Path
    """Backups and the serving process's log (``fuzz-stack.log``)."""
    services: list[str] = field(default_factory=available_services)
    start_timeout_s: float = 180.0
    urls: dict[str, str] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    startup_s: float = 0.0

    def __post_init__(self) -> None:
        self.db_url = f"{self.database_url}_fuzz_{secrets.token_hex(3)}"
        prefix = f"{self.kafka.topic_prefix}fuzz{secrets.token_hex(2)}."
        self.kafka = self.kafka.model_copy(update={"topic_prefix": prefix})
        self.log_path = self.work_dir / "fuzz-stack.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FuzzStack:
        started = time.perf_counter()
        asyncio.run(ensure_database(self.db_url))
        try:
            self._start()
            self.documents = {name: httpx.get(f"{url}/openapi.json", timeout=30).json()
                              for name, url in self.urls.items()}
            self._seed()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.startup_s = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._process is not None:
                if self._process.poll() is None:
                    self._process.terminate()
                try:
                    self._process.wait(60)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
                if self._process.stdin:
                    self._process.stdin.close()
        finally:
            asyncio.run(drop_database(self.db_url))

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        ready = self.work_dir / f"ready-{secrets.token_hex(3)}.json"
        config = {"services": self.services, "db_url": self.db_url, "kafka": self.kafka.model_dump(mode="json"),
                  "backup_dir": str(self.work_dir / "backups"), "ready_file": str(ready),
                  "start_timeout_s": self.start_timeout_s}
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen([sys.executable, __file__, json.dumps(config)], stdin=subprocess.PIPE,
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s + 10
        while not ready.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the services did not start (exit {self._process.poll()}):\n{self.log_tail()}")
            time.sleep(0.1)
        self.urls = json.loads(ready.read_text())

    def _seed(self) -> None:
        headers = Token().headers()
        with httpx.Client(base_url=self.urls["archive"], headers=headers, timeout=60) as archive:
            for kind, rows in master_data():
                resp = archive.post(f"/api/v1/import/{kind}", json=rows)
                if resp.status_code != 200:
                    raise RuntimeError(f"seeding {kind}: {resp.status_code} {resp.text[:500]}")
        if "collector" not in self.urls:
            return
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.urls["collector"], headers=headers, timeout=30) as collector:
            while time.monotonic() < deadline:
                resp = collector.get("/api/v1/points")
                if resp.status_code == 200 and all(f"{c}-M3" in resp.text for c in COMPANIES):
                    time.sleep(0.5)  # the validator and the FEP consume the same messages
                    return
                time.sleep(0.2)
        raise RuntimeError("the seeded master data did not reach the collector within 60 s")


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
