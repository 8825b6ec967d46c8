"""Make sure a PostgreSQL server answers at the configured URL.

If none answers and we are root, install Debian's ``postgresql`` package and
start its cluster with trust authentication on 127.0.0.1 (a development box).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from urllib.parse import urlsplit

from emms_devstack.ports import wait_for_port


def _answers(host: str, port: int) -> bool:
    try:
        wait_for_port(host, port, timeout_s=1.0)
        return True
    except TimeoutError:
        return False


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def _install_debian_postgresql() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)


def _trust_local(version: str) -> None:
    hba = f"/etc/postgresql/{version}/main/pg_hba.conf"
    lines = ["local all all trust", "host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"]
    with open(hba, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def ensure_server(url: str) -> str:
    """Return a short description of what was done; raise if no server can be had."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    if _answers(host, port):
        return "running"
    if host not in ("127.0.0.1", "localhost") or os.geteuid() != 0:
        raise RuntimeError(f"no PostgreSQL answers at {host}:{port} and it cannot be installed here")
    if not shutil.which("pg_ctlcluster"):
        _install_debian_postgresql()
    versions = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))
    if not versions:
        raise RuntimeError("postgresql is installed but has no cluster in /etc/postgresql")
    _trust_local(versions[-1])
    _run("pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start")
    deadline = time.monotonic() + 30
    while not _answers(host, port):
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL was started but does not answer")
        time.sleep(0.5)
    return "started"
