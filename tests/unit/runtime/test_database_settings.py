"""The project-wide TimescaleDB switch reaches every service's database settings."""

from __future__ import annotations

import pytest

from emms_db.settings import DatabaseSettings


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("off", False),
                                                 ("true", True), ("1", True)])
def test_emms_database_timescaledb_switch(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("EMMS_DATABASE_TIMESCALEDB", value)
    assert DatabaseSettings().timescaledb is expected


def test_timescaledb_is_used_where_the_server_has_it_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMMS_DATABASE_TIMESCALEDB", raising=False)
    assert DatabaseSettings().timescaledb is True
