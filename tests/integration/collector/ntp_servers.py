"""Local NTP servers for the master-clock tests: Debian's ``chronyd`` serving its own clock on a free
localhost port (``local stratum``, ``-x``: it never touches the host's clock), and one whose clock is
skewed by libfaketime (``FAKETIME=+30``) — a real NTP server that is 30 s ahead of the master.

``make test`` unpacks both (``make chrony``); where apt is unavailable the tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import ntplib
import pytest

REPO = Path(__file__).resolve().parents[3]
CHRONYD = Path(os.environ.get("CHRONYD") or REPO / ".cache/chrony/usr/sbin/chronyd")
LIBFAKETIME = Path(os.environ.get("LIBFAKETIME") or next(
    iter(sorted(REPO.glob(".cache/chrony/usr/lib/*/faketime/libfaketimeMT.so.1"))), REPO / ".cache/chrony/none"))
NO_CHRONY = ("chronyd not found (set CHRONYD, or run `make chrony`, which unpacks Debian's chrony and libfaketime;"
             " it needs apt-get)")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chrony_server(workdir: Path, skew_s: float = 0.0) -> Iterator[str]:
    """A chronyd answering NTP on ``127.0.0.1:<port>`` with the host's clock (+ ``skew_s``); yields the
    server as ``host:port``."""
    if not CHRONYD.exists():
        pytest.skip(NO_CHRONY)
    if skew_s and not LIBFAKETIME.exists():
        pytest.skip(NO_CHRONY)
    port = _free_udp_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"chrony-{port}.conf"
    conf.write_text("\n".join([
        f"port {port}", "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 8", "cmdport 0",
        "bindcmdaddress /", f"pidfile {workdir}/chrony-{port}.pid", ""]))
    env = dict(os.environ)
    if skew_s:
        env |= {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"{skew_s:+g}", "FAKETIME_DONT_RESET": "1"}
    cmd = [str(CHRONYD), "-d", "-x", "-f", str(conf)]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]
    log = (workdir / f"chrony-{port}.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                ntplib.NTPClient().request("127.0.0.1", version=3, port=port, timeout=0.5)
                break
            except (ntplib.NTPException, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chronyd did not answer: "
                                       + (workdir / f"chrony-{port}.log").read_text()) from None
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
