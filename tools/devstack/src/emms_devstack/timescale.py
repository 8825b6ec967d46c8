"""A private TimescaleDB cluster from the shared build (``../shared/timescaledb``).

No package registry ships TimescaleDB; the project's shared folder carries a build of 2.28.3 for
PostgreSQL 15 with a ``cluster`` script. Tests and benchmarks that need the extension start a
cluster of their own on a free port with :class:`TimescaleCluster` and skip, giving
:func:`unavailable_reason`, where the build is absent or refuses this machine (another PostgreSQL
major version, not root). The machine's own PostgreSQL on 5432 is never touched.

``EMMS_TIMESCALEDB_KIT`` names another folder holding the same ``install`` and ``cluster`` scripts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from emms_devstack.ports import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[4]


def kit_dir() -> Path:
    """Where the TimescaleDB build is looked for."""
    env = os.environ.get("EMMS_TIMESCALEDB_KIT")
    return Path(env) if env else REPO.parent / "shared" / "timescaledb"


def unavailable_reason() -> str | None:
    """None when a cluster can be started here, else why not (in one line)."""
    kit = kit_dir()
    if not (kit / "cluster").is_file() or not (kit / "install").is_file():
        return f"no TimescaleDB build at {kit} (set EMMS_TIMESCALEDB_KIT)"
    if os.geteuid() != 0:
        return "the TimescaleDB build installs into PostgreSQL's directories: root is needed"
    if not shutil.which("runuser"):
        return "runuser is missing: the cluster runs as the postgres system user"
    done = subprocess.run(["bash", str(kit / "install")], capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return f"TimescaleDB install refused: {why[-1] if why else done.returncode}"
    return None


@dataclass
class TimescaleCluster:
    """One private PostgreSQL 15 cluster with TimescaleDB preloaded, on 127.0.0.1:``port``."""

    directory: Path = field(default_factory=lambda: Path(f"/tmp/emms-tsdb-{secrets.token_hex(4)}"))
    port: int = field(default_factory=free_port)
    url: str = ""

    def start(self) -> TimescaleCluster:
        """Start it (creating the cluster on first use); ``url`` names its ``postgres`` database."""
        out = subprocess.run(
            ["bash", str(kit_dir() / "cluster"), "start", str(self.directory), str(self.port)],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"TimescaleDB cluster did not start: {out.stderr.strip() or out.stdout.strip()}")
        self.url = out.stdout.strip().splitlines()[-1]
        wait_for_port("127.0.0.1", self.port, timeout_s=30)
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown); the data directory stays until :meth:`remove`."""
        if (self.directory / "postmaster.pid").exists():
            subprocess.run(["bash", str(kit_dir() / "cluster"), "stop", str(self.directory)],
                           capture_output=True, check=False)

    def remove(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this cluster."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))
