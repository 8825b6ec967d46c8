"""The FEP's choice of PW per terminal (own from master data, else the default unless forbidden), AFN04 F5
built from a sealed new PW, and the terminal-password KEK settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from emms_fep.passwords import DEV_KEY_ENCRYPTION_KEY, TerminalPasswordSettings, Unsealer, f5_data
from emms_fep.settings import FepSettings
from emms_fep.wire import RequestEncoder
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import decode_frame
from emms_protocol.gdw1376.units import RawData, decode_units
from emms_sim.auth_param import password_of

DEFAULT = bytes(16)
OWN = bytes(range(1, 17))
UNSEAL = Unsealer([DEV_KEY_ENCRYPTION_KEY])
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _lookup(terminal: str) -> bytes | None:
    if terminal == "3701-00013":
        raise ValueError("the terminal's password in master data does not open with the key-encryption key")
    return OWN if terminal == "3701-00012" else None


def _encoder(default_allowed: bool = True) -> RequestEncoder:
    return RequestEncoder(master_address=1, password=DEFAULT, tp_delay_min=5, passwords=_lookup,
                          default_allowed=default_allowed, unseal=UNSEAL)


def _request(terminal: str, afn: int = 0x05, data: dict[str, object] | None = None, fn: int = 31,
             pn: int = 0) -> DownlinkRequest:
    unit = DataUnitRequest(pn=[pn], fn=[fn], data=data if data is not None else {"value": "now"})
    return DownlinkRequest(request_id="r1", terminal=terminal, afn=afn, units=[unit], requested_by="test")


def test_a_terminal_with_its_own_password_gets_it_others_the_default() -> None:
    assert decode_frame(_encoder().encode(_request("3701-00012"), 1, NOW)).pw == OWN
    assert decode_frame(_encoder().encode(_request("3701-00014"), 1, NOW)).pw == DEFAULT
    read = _encoder().encode(_request("3701-00012", afn=0x0C, data={}, fn=2), 1, NOW)  # AFN 0C carries no PW
    assert decode_frame(read).pw is None


def test_the_default_can_be_forbidden_and_an_unusable_password_is_refused() -> None:
    with pytest.raises(ProtocolError, match="no password for terminal 3701-00014"):
        _encoder(default_allowed=False).encode(_request("3701-00014"), 1, NOW)
    assert decode_frame(_encoder(default_allowed=False).encode(_request("3701-00012"), 1, NOW)).pw == OWN
    with pytest.raises(ProtocolError, match="does not open"):
        _encoder().encode(_request("3701-00013"), 1, NOW)


def test_f5_carries_the_unsealed_new_password_under_the_one_in_force() -> None:
    new = bytes(range(100, 116))
    token = Fernet(DEV_KEY_ENCRYPTION_KEY).encrypt(new).decode()
    raw = _encoder().encode(_request("3701-00012", afn=0x04, data={"sealed_password": token}, fn=5), 2, NOW)
    frame = decode_frame(raw)
    assert frame.pw == OWN
    (unit,) = decode_units(frame)
    assert unit.fn == 5 and isinstance(unit.value, RawData) and password_of(unit.value.data) == new
    with pytest.raises(ProtocolError, match="AFN04 p0 F5 only"):
        _encoder().encode(_request("3701-00012", afn=0x04, data={"sealed_password": token}, fn=1), 2, NOW)
    with pytest.raises(ProtocolError, match="does not open"):
        _encoder().encode(_request("3701-00012", afn=0x04, data={"sealed_password": "x" + token}, fn=5), 2, NOW)
    other = Fernet(Fernet.generate_key()).encrypt(new).decode()
    with pytest.raises(ProtocolError, match="does not open") as caught:
        _encoder().encode(_request("3701-00012", afn=0x04, data={"sealed_password": other}, fn=5), 2, NOW)
    assert new.hex() not in str(caught.value) and other not in str(caught.value)


@given(st.binary(min_size=16, max_size=16))
def test_f5_layout_is_what_the_simulator_reads(password: bytes) -> None:
    assert password_of(f5_data(password)) == password
    assert len(f5_data(password)) == 19


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ValueError, match="development key"):
        TerminalPasswordSettings(key_encryption_key=DEV_KEY_ENCRYPTION_KEY).keys("production")
    assert TerminalPasswordSettings().keys("production") == []  # no Secret mounted: no terminal has its own PW
    with pytest.raises(ValueError, match="no terminal-password key-encryption key"):
        Unsealer([])(Fernet(DEV_KEY_ENCRYPTION_KEY).encrypt(OWN).decode())
    with pytest.raises(ValueError, match="Fernet keys"):
        FepSettings(_env_file=None, environment="test",
                    terminal_passwords=TerminalPasswordSettings(key_encryption_key="not a key"))
    with pytest.raises(ValueError, match="Fernet keys"):
        TerminalPasswordSettings(key_encryption_key="not a key").keys("test")
    key = Fernet.generate_key().decode()
    assert TerminalPasswordSettings(key_encryption_key=f"{key},{DEV_KEY_ENCRYPTION_KEY}").keys("test")[0] == key
