"""Every service starts alone as its own process, gets ready on the real parts, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from emms_db import drop_database, ensure_database
from emms_devstack.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.both_storage_modes]

SERVICES = {"fep": "FEP", "collector": "COLLECTOR", "validator": "VALIDATOR", "control": "CONTROL",
            "analytics": "ANALYTICS", "archive": "ARCHIVE", "identity": "IDENTITY", "interface": "INTERFACE",
            "reports": "REPORTS", "operations": "OPERATIONS"}


def _get(url: str, timeout_s: float = 5.0) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


def test_each_service_starts_alone_is_ready_and_stops_on_sigterm(service_env: dict[str, str],
                                                                   storage_mode: str, tmp_path: Path) -> None:
    """The ten start at once on a new database; on TimescaleDB one of them creates the extension
    (concurrent CREATE EXTENSION used to kill the others at start). Their logs go to files: a pipe
    nobody reads fills up and blocks a service's last log lines, and so its exit."""
    url = service_env["EMMS_DATABASE_URL"] + "_up"
    asyncio.run(ensure_database(url))
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    logs = {short: tmp_path / f"{short}.log" for short in SERVICES}
    for short, prefix in SERVICES.items():
        port = free_port()
        env = {**service_env, "EMMS_DATABASE_URL": url, f"EMMS_{prefix}_HTTP__PORT": str(port),
               # ten pools of the default 10 could take the test server's 100 connections from the tests
               # running beside this one (a fresh-clone run failed so: "too many clients")
               f"EMMS_{prefix}_DATABASE__POOL_MAX": "4",
               "EMMS_FEP_TERMINALS__PORT": "0"}
        with logs[short].open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", f"emms_{short}"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=log)
        procs[short] = (proc, port)
    try:
        ready: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + 90
        while len(ready) < len(procs) and time.monotonic() < deadline:
            for short, (proc, port) in procs.items():
                if short in ready:
                    continue
                assert proc.poll() is None, f"{short} exited: {_log_tail(logs[short])}"
                try:
                    status, body = _get(f"http://127.0.0.1:{port}/readyz")
                except (urllib.error.URLError, ConnectionError, TimeoutError):  # unanswered in 5 s while
                    continue                                                    # ten start: not ready yet
                if status == 200:
                    ready[short] = body
            time.sleep(0.3)
        late = set(procs) - set(ready)
        assert not late, f"not ready: {late}: " + "; ".join(_log_tail(logs[s], 1500) for s in late)
        for short, body in ready.items():
            assert body["status"] == "ready" and body["service"] == short
            assert body["storage_mode"] == storage_mode
            assert body["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
        _, port = procs["archive"]
        # the archive's whole OpenAPI document is built on the first request: seconds on a loaded machine
        status, openapi = _get(f"http://127.0.0.1:{port}/openapi.json", timeout_s=30.0)
        assert status == 200 and "/api/v1/service" in openapi["paths"]  # type: ignore[operator]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
            assert b"emms_service_info" in resp.read()
    finally:
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        failures: list[str] = []
        for short, (proc, _) in procs.items():
            try:
                code = proc.wait(timeout=max(0.1, started + 30 - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                failures.append(f"{short} did not stop within 30 s of SIGTERM: {_log_tail(logs[short])}")
                continue
            if code not in (0, -signal.SIGTERM):
                failures.append(f"{short} exit {code}: {_log_tail(logs[short])}")
        assert not failures, "\n".join(failures)
        asyncio.run(drop_database(url))
