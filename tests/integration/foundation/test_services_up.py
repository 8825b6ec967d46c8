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

import pytest

from emms_db import drop_database, ensure_database
from emms_devstack.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.both_storage_modes]

SERVICES = {"fep": "FEP", "collector": "COLLECTOR", "validator": "VALIDATOR", "control": "CONTROL",
            "analytics": "ANALYTICS", "archive": "ARCHIVE", "identity": "IDENTITY"}


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_each_service_starts_alone_is_ready_and_stops_on_sigterm(service_env: dict[str, str],
                                                                   storage_mode: str) -> None:
    """The seven start at once on a new database; on TimescaleDB one of them creates the extension
    (concurrent CREATE EXTENSION used to kill the others at start)."""
    url = service_env["EMMS_DATABASE_URL"] + "_up"
    asyncio.run(ensure_database(url))
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    for short, prefix in SERVICES.items():
        port = free_port()
        env = {**service_env, "EMMS_DATABASE_URL": url, f"EMMS_{prefix}_HTTP__PORT": str(port),
               "EMMS_FEP_TERMINALS__PORT": "0"}
        proc = subprocess.Popen([sys.executable, "-m", f"emms_{short}"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs[short] = (proc, port)
    try:
        ready: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + 90
        while len(ready) < len(procs) and time.monotonic() < deadline:
            for short, (proc, port) in procs.items():
                if short in ready:
                    continue
                assert proc.poll() is None, f"{short} exited: {proc.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
                try:
                    status, body = _get(f"http://127.0.0.1:{port}/readyz")
                except (urllib.error.URLError, ConnectionError):
                    continue
                if status == 200:
                    ready[short] = body
            time.sleep(0.3)
        assert set(ready) == set(procs), f"not ready: {set(procs) - set(ready)}"
        for short, body in ready.items():
            assert body["status"] == "ready" and body["service"] == short
            assert body["storage_mode"] == storage_mode
            assert body["checks"] == {"database": "ok", "broker": "ok", "workers": "ok"}
        _, port = procs["archive"]
        status, openapi = _get(f"http://127.0.0.1:{port}/openapi.json")
        assert status == 200 and "/api/v1/service" in openapi["paths"]  # type: ignore[operator]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert b"emms_service_info" in resp.read()
    finally:
        for proc, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        for short, (proc, _) in procs.items():
            code = proc.wait(timeout=30)
            assert code in (0, -signal.SIGTERM), f"{short} exit {code}"
        assert time.monotonic() - started < 30
        asyncio.run(drop_database(url))
