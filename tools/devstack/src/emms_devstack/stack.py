"""``make up``: broker, database schema, every service as its own process, a simulated fleet.

The identity service starts first (with the first admin's password made here), every service
verifies tokens with its JWKS (``EMMS_JWKS_URL``); once all are ready the demo users are made
(:mod:`emms_devstack.identity`) and the stack's own calls (seeding, the first collection) use
the admin's real token. Development tokens (``emms-token``) stay accepted here.

Runs in the foreground; Ctrl-C (or ``make down``, which signals the pid in
``.cache/devstack/stack.pid``) stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from emms_bus import KafkaSettings, ensure_topics
from emms_db import ensure_database, migrate_url
from emms_devstack.fleet import FleetPlan, start_fleet
from emms_devstack.identity import Credentials, IdentityClient, People, provision, sign_in_lines
from emms_devstack.local_broker import LocalBroker
from emms_devstack.ports import free_port
from emms_devstack.postgres import ensure_server
from emms_devstack.seed_masterdata import seed, start_curves, start_first_collection
from emms_devstack.services import SERVICES, ServiceDef
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

STATE = Path(".cache/devstack")
CREDENTIALS = STATE / "credentials.json"
JWKS_PATH = "/.well-known/jwks.json"


def _port_or_free(preferred: int) -> int:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


@dataclass
class Stack:
    database_url: str
    fleet: FleetPlan
    broker: LocalBroker = field(default_factory=LocalBroker)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    admin_password: str | None = None
    """Given to the identity service for the first admin (EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD)."""

    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['identity']}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "EMMS_DATABASE_URL": self.database_url,
               "EMMS_KAFKA_BOOTSTRAP": self.broker.bootstrap, "EMMS_LOG_JSON": "true"}
        if "identity" in self.ports:
            env["EMMS_JWKS_URL"] = self.identity_url() + JWKS_PATH
        return env

    def start_infra(self) -> None:
        print(f"postgres : {ensure_server(self.database_url)} ({self.database_url})")
        asyncio.run(ensure_database(self.database_url))
        self.broker.port = _port_or_free(9092)
        self.broker.log_path = STATE / "broker.log"
        self.broker.start()
        created = asyncio.run(ensure_topics(KafkaSettings(bootstrap=self.broker.bootstrap)))
        print(f"broker   : Tansu at {self.broker.bootstrap} ({len(created)} topics created)")

    def migrate(self) -> None:
        for svc in SERVICES:
            report = asyncio.run(migrate_url(self.database_url, svc.short, svc.migrations()))
            print(f"migrate  : {svc.short:<10} applied {len(report.applied)}, skipped {len(report.skipped)}"
                  f" (storage mode {report.mode.value})")

    def start_service(self, svc: ServiceDef) -> None:
        port = _port_or_free(svc.port)
        self.ports[svc.short] = port
        env = {**self.env(), f"EMMS_{svc.prefix}_HTTP__PORT": str(port)}
        if svc.short == "identity" and self.admin_password is not None:
            env["EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] = self.admin_password
        if svc.short == "fep":
            self.ports["terminals"] = _port_or_free(self.fleet.fep_port)
            env["EMMS_FEP_TERMINALS__PORT"] = str(self.ports["terminals"])
        if svc.short == "collector":  # accepted terminals and adopted meters are written into the archive
            env["EMMS_COLLECTOR_TERMINAL_CONFIG__ARCHIVE_URL"] = f"http://127.0.0.1:{self.ports['archive']}"
        if svc.short == "interface":  # the owners of its jobs and the token endpoint, where make up started them
            for owner in ("archive", "collector", "control", "analytics"):
                env[f"EMMS_INTERFACE_UPSTREAM__{owner.upper()}_URL"] = f"http://127.0.0.1:{self.ports[owner]}"
        if svc.short == "reports":  # its data sets' sources and the token endpoint, where make up started them
            env["EMMS_REPORTS_UPSTREAM__ANALYTICS_URL"] = f"http://127.0.0.1:{self.ports['analytics']}"
            env["EMMS_REPORTS_UPSTREAM__ARCHIVE_URL"] = f"http://127.0.0.1:{self.ports['archive']}"
            env["EMMS_REPORTS_UPSTREAM__TOKEN_URL"] = f"http://127.0.0.1:{self.ports['identity']}/oauth/token"
            env["EMMS_REPORTS_DELIVERY__STORE_DIR"] = str((STATE / "reports").resolve())
        if svc.short == "operations":  # the services it polls, where make up started them
            env["EMMS_OPERATIONS_SERVICES"] = json.dumps({s.short: f"http://127.0.0.1:{self.ports[s.short]}"
                                                          for s in SERVICES if s.short in self.ports})
        log = open(STATE / f"{svc.short}.log", "ab")  # noqa: SIM115
        self.procs[svc.short] = subprocess.Popen([sys.executable, "-m", svc.module], env=env,
                                                 stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 90, services: tuple[ServiceDef, ...] = SERVICES,
                   ) -> dict[str, dict[str, object]]:
        ready: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + timeout_s
        while len(ready) < len(services) and time.monotonic() < deadline:
            for svc in services:
                proc = self.procs[svc.short]
                if proc.poll() is not None:
                    raise RuntimeError(f"{svc.short} exited ({proc.returncode}); see {STATE / svc.short}.log")
                if svc.short not in ready:
                    body = _ready(self.ports[svc.short])
                    if body:
                        ready[svc.short] = body
            time.sleep(0.3)
        missing = {s.short for s in services} - set(ready)
        if missing:
            raise RuntimeError(f"not ready after {timeout_s}s: {sorted(missing)}")
        return ready

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 30 s; killing")
                proc.kill()
        self.broker.stop()


def _ready(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as resp:
            body: dict[str, object] = json.loads(resp.read())
            return body if resp.status == 200 else None
    except OSError:
        return None


def _print_summary(stack: Stack, ready: dict[str, dict[str, object]], creds: Credentials | None = None) -> None:
    print("\nEMMS is up. Services (HTTP API, OpenAPI at /docs, metrics at /metrics):")
    for svc in SERVICES:
        port = stack.ports[svc.short]
        print(f"  {svc.short:<10} http://127.0.0.1:{port}  readyz: {ready[svc.short]['status']},"
              f" storage {ready[svc.short]['storage_mode']}")
    print(f"  terminals  tcp://127.0.0.1:{stack.ports['terminals']}  (concentrators connect here)")
    print(f"  broker     {stack.broker.bootstrap}")
    print(f"  logs       {STATE}/*.log")
    if creds is not None:
        print(f"\nSign in at {stack.identity_url()}/oauth/token (passwords kept in {CREDENTIALS}):")
        for line in sign_in_lines(stack.identity_url(), creds, f"http://127.0.0.1:{stack.ports['archive']}"):
            print(line)
    print("  dev token  .venv/bin/emms-token --role admin   (development only; send as 'Authorization: Bearer …')")
    print("  check      .venv/bin/emms-devstack check --wait 300   (the fleet's coverage, every reading vs the truth)")


def _people(stack: Stack, creds: Credentials) -> People:
    """The demo users and the admin's token (None: the identity service could not be used; a note says why)."""
    client = IdentityClient(stack.identity_url())
    try:
        people = provision(client, creds)
    except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
        people = People(None, [f"making the demo users failed: {exc}; the stack's own calls use a development token"])
    finally:
        client.close()
    creds.save(CREDENTIALS)
    for note in people.notes:
        print(f"identity : {note}")
    return people


def _seed_archive(stack: Stack, manifest: Path, token: str | None, timeout_s: float = 60.0) -> None:
    """Load the fleet's manifest into the archive (and so, over the bus, into the collector), with
    the admin's token from the identity service (a development token when there is none)."""
    deadline = time.monotonic() + timeout_s
    while not manifest.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not manifest.exists():
        print(f"archive  : no fleet manifest at {manifest}; master data not loaded")
        return
    if token is None:
        token = issue_token(AuthSettings(), "devstack", "admin")
    try:
        plan = seed(f"http://127.0.0.1:{stack.ports['archive']}", token, manifest)
    except (OSError, RuntimeError) as exc:
        print(f"archive  : loading the fleet's master data failed: {exc}")
        return
    print(f"archive  : fleet master data loaded — {len(dict(plan.imports)['terminals'])} terminals, "
          f"{plan.meters} meters, {plan.replaced} already replaced in the field, {len(plan.passwords)} terminal"
          " passwords")
    started = start_first_collection(f"http://127.0.0.1:{stack.ports['collector']}", token)
    print(f"collector: {len(started)} automatic tasks created from master data; yesterday's data collected now "
          f"({', '.join(started) or 'none yet'}) — later runs follow their schedules")
    try:
        curves = start_curves(f"http://127.0.0.1:{stack.ports['collector']}", token, manifest)
    except (OSError, RuntimeError) as exc:
        print(f"collector: the load-curve task could not be started: {exc}")
        return
    print(f"collector: {curves or 'no'} tasks reading 15-minute load curves of the first electricity meters and "
          "hourly thermal power and temperatures of the first heat meters")


def run(database_url: str, fleet: FleetPlan) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "stack.pid").write_text(str(os.getpid()))
    creds = Credentials.load(CREDENTIALS, database_url)
    creds.save(CREDENTIALS)  # before the identity service creates the admin with it
    stack = Stack(database_url=database_url, fleet=fleet, admin_password=creds.passwords["admin"])
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    fleet_proc: subprocess.Popen[bytes] | None = None
    try:
        stack.start_infra()
        stack.migrate()
        identity, others = SERVICES[0], SERVICES[1:]
        stack.start_service(identity)  # the others verify tokens with its JWKS
        stack.wait_ready(services=(identity,))
        for svc in others:
            stack.start_service(svc)
        ready = stack.wait_ready()
        people = _people(stack, creds)
        fleet_proc = start_fleet(stack, fleet, STATE)
        if fleet_proc is not None:
            _seed_archive(stack, STATE / "fleet.json", people.admin_token)
        _print_summary(stack, ready, creds)
        print("\nCtrl-C or `make down` stops everything.")
        while not stopping:
            time.sleep(0.5)
    finally:
        print("\nstopping …")
        if fleet_proc and fleet_proc.poll() is None:
            fleet_proc.send_signal(signal.SIGTERM)
            fleet_proc.wait(timeout=30)
        stack.stop()
        (STATE / "stack.pid").unlink(missing_ok=True)
        print("stopped.")
    return 0


def down() -> int:
    pid_file = STATE / "stack.pid"
    if not pid_file.exists():
        print("no running stack (.cache/devstack/stack.pid is absent)")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print("stale pid file removed")
        return 0
    for _ in range(120):
        if not pid_file.exists():
            print("stopped.")
            return 0
        time.sleep(0.5)
    print("the stack did not stop within 60 s")
    return 1
