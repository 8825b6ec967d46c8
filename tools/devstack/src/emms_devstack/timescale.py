"""A private TimescaleDB cluster from the shared build (``../shared/timescaledb``).

No package registry ships TimescaleDB; the project's shared folder carries a build of 2.28.3 for
PostgreSQL 15 with a ``cluster`` script. Tests and benchmarks that need the extension start a
cluster of their own on a free port with :class:`TimescaleCluster` and skip, giving
:func:`unavailable_reason`, where the build is absent or refuses this machine (another PostgreSQL
major version, not root). The machine's own PostgreSQL on 5432 is never touched.

``EMMS_TIMESCALEDB_KIT`` names another folder holding the same ``install`` and ``cluster`` scripts.

The kit's ``cluster start`` runs ``install`` every time, which rewrites the extension's shared
libraries in place; a second cluster started while a first one loads ``timescaledb-tsl`` (it is
loaded lazily, by the first compression or policy call of a backend) can then read a half-written
file ("Permission denied"). So the extension is installed once per process, and only when the
installed files differ from the kit's, and clusters are started here with the same settings as
the kit's script (``initdb``, the same ``postgresql.conf`` lines, ``pg_ctl``).
"""

from __future__ import annotations

import fcntl
import filecmp
import functools
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from emms_devstack.ports import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[4]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{directory}'
shared_preload_libraries = '{preload}'
timescaledb.telemetry_level = off
max_connections = 300
shared_buffers = 512MB
"""


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
    return _install()


INSTALL_LOCK = "/tmp/emms-timescaledb-install.lock"


@functools.cache
def _install() -> str | None:
    """Install the kit's extension unless the very same files are installed; why not, or None.

    Under a lock file: test sessions started side by side (pytest-xdist workers) would otherwise both
    find the files missing and copy over each other's — and over a library a started cluster has mapped."""
    with open(INSTALL_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _install_locked()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install_locked() -> str | None:
    kit = kit_dir()
    pg_config = PG_BIN / "pg_config"
    if pg_config.exists():
        libdir = Path(subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True).stdout.strip())
        extdir = Path(subprocess.run([str(pg_config), "--sharedir"], capture_output=True,
                                     text=True).stdout.strip()) / "extension"
        pairs = [(f, libdir / f.name) for f in (kit / "lib").glob("*.so")]
        pairs += [(f, extdir / f.name) for f in (kit / "extension").iterdir()]
        if pairs and all(dst.exists() and filecmp.cmp(src, dst, shallow=False) for src, dst in pairs):
            return None
    done = subprocess.run(["bash", str(kit / "install")], capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        return f"TimescaleDB install refused: {why[-1] if why else done.returncode}"
    return None


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, check=False)


@dataclass
class TimescaleCluster:
    """One private PostgreSQL 15 cluster with TimescaleDB preloaded, on 127.0.0.1:``port``."""

    directory: Path = field(default_factory=lambda: Path(f"/tmp/emms-tsdb-{secrets.token_hex(4)}"))
    port: int = field(default_factory=free_port)
    url: str = ""
    preload: tuple[str, ...] = ()
    """Libraries preloaded beside TimescaleDB on a new cluster (a bench's ``pg_stat_statements``)."""

    def start(self) -> TimescaleCluster:
        """Start it (creating the cluster on first use); ``url`` names its ``postgres`` database."""
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(f"TimescaleDB cluster cannot start: {reason}")
        if not (self.directory / "PG_VERSION").exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            shutil.chown(self.directory, "postgres", "postgres")
            made = _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.directory), "-U", "postgres",
                                "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
            if made.returncode != 0:
                raise RuntimeError(f"initdb failed: {made.stderr.strip()}")
            with (self.directory / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write(CONF.format(port=self.port, directory=self.directory,
                                        preload=",".join(("timescaledb", *self.preload))))
        out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.directory), "-l",
                           str(self.directory / "server.log"), "-w", "start")
        if out.returncode != 0:
            raise RuntimeError(f"TimescaleDB cluster did not start: {out.stderr.strip() or out.stdout.strip()}")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        wait_for_port("127.0.0.1", self.port, timeout_s=30)
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown); the data directory stays until :meth:`remove`."""
        if (self.directory / "postmaster.pid").exists():
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.directory), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this cluster."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{name}"))
