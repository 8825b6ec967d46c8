"""Where the TimescaleDB build is absent, the TimescaleDB half of the suite skips, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from emms_devstack import timescale


def test_a_missing_build_is_a_reason_not_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMMS_TIMESCALEDB_KIT", str(tmp_path / "nowhere"))
    reason = timescale.unavailable_reason()
    assert reason is not None and "no TimescaleDB build at" in reason and "nowhere" in reason
    with pytest.raises(RuntimeError, match="cannot start"):
        timescale.TimescaleCluster(directory=tmp_path / "db").start()


def test_the_kit_is_looked_for_beside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMMS_TIMESCALEDB_KIT", raising=False)
    assert timescale.kit_dir() == timescale.REPO.parent / "shared" / "timescaledb"
