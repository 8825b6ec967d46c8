"""FEP settings: defaults, env overrides, refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emms_fep.settings import FepSettings


def test_defaults_hold_a_full_process_and_name_the_replica() -> None:
    s = FepSettings(_env_file=None, instance_id="host-1")  # type: ignore[call-arg]
    assert s.terminals.port == 9027
    assert s.limits.max_connections == 19_900
    assert s.replica_id == "host-1"
    assert s.downlink.max_in_flight == 1


def test_env_sets_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_FEP_TERMINALS__PORT", "19027")
    monkeypatch.setenv("EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER", "5")
    monkeypatch.setenv("EMMS_FEP_DIAL", '[{"host": "10.0.0.5", "port": 9001, "terminal": "0171-00007"}]')
    monkeypatch.setenv("EMMS_FEP_REPLICA_ID", "fep-0")
    s = FepSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.terminals.port == 19027
    assert s.limits.max_connections_per_peer == 5
    assert s.dial[0].terminal == "0171-00007"
    assert s.replica_id == "fep-0"


def test_a_terminal_port_equal_to_the_http_port_is_refused() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        FepSettings(_env_file=None, terminals={"port": 8001}, http={"port": 8001})  # type: ignore[call-arg]


def test_publish_low_water_must_be_below_high_water() -> None:
    with pytest.raises(ValidationError, match="publish_queue_low"):
        FepSettings(_env_file=None, limits={"publish_queue_high": 100, "publish_queue_low": 100})  # type: ignore[call-arg]


def test_password_must_be_sixteen_bytes_of_hex() -> None:
    with pytest.raises(ValidationError):
        FepSettings(_env_file=None, downlink={"password_hex": "00"})  # type: ignore[call-arg]
