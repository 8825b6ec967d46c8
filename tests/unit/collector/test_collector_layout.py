"""The collector's layout rules (issue #21): SQL only in ``repository/``, HTTP routers only in ``api/``, small
modules, background loops on the shared periodic worker."""

from __future__ import annotations

import re
from pathlib import Path

import emms_collector

PACKAGE = Path(emms_collector.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
DB_CALL = re.compile(r"\.(fetch|fetchrow|fetchval|execute|executemany|copy_\w+)\(")


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_every_database_call_is_in_the_repository() -> None:
    outside = [f"{_rel(p)}:{n}" for p in MODULES if not _rel(p).startswith("repository/")
               for n, line in enumerate(p.read_text().splitlines(), 1) if DB_CALL.search(line)]
    assert outside == []


def test_routes_modules_are_http_routers_under_api() -> None:
    assert [_rel(p) for p in MODULES if "routes" in p.name and not _rel(p).startswith("api/")] == []


def test_modules_stay_small() -> None:
    assert [(_rel(p), n) for p in MODULES if (n := len(p.read_text().splitlines())) >= 400] == []


def test_background_loops_use_the_periodic_worker() -> None:
    hand_written = [_rel(p) for p in MODULES if "while not stop.is_set()" in p.read_text()]
    assert hand_written == []
