"""Terminal passwords in the archive: the KEK, sealing, the 1376.1 key of an address, the sealed field of a
published change (never the audited image)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from emms_archive.outbox import to_message
from emms_archive.passwords.sealing import DEV_KEY_ENCRYPTION_KEY, Sealer, TerminalPasswordSettings, parse_hex
from emms_archive.passwords.store import session_key
from emms_archive.settings import ArchiveSettings
from emms_fep.masterdata import terminal_key
from emms_fep.passwords import DEV_KEY_ENCRYPTION_KEY as FEP_DEV_KEY
from emms_fep.passwords import Unsealer


@given(st.binary(min_size=16, max_size=16))
def test_a_sealed_password_opens_in_the_fep_with_the_shared_key(password: bytes) -> None:
    token = Sealer([DEV_KEY_ENCRYPTION_KEY]).seal(password)
    assert password.hex() not in token
    assert Unsealer([FEP_DEV_KEY])(token) == password  # the two services' development keys are one


def test_kek_rotation_and_refusals() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Sealer([old]).seal(bytes(16))
    assert Sealer([new, old]).unseal(token) == bytes(16)  # the first key seals, every key opens
    with pytest.raises(ValueError, match="does not open"):
        Sealer([new]).unseal(token)
    with pytest.raises(ValueError, match="16 bytes"):
        Sealer([new]).seal(bytes(8))
    with pytest.raises(ValueError, match="development key"):
        TerminalPasswordSettings(key_encryption_key=DEV_KEY_ENCRYPTION_KEY).keys("production")
    assert TerminalPasswordSettings().keys("production") == [] and not Sealer([]).enabled
    with pytest.raises(ValueError, match="no terminal-password key-encryption key"):
        Sealer([]).seal(bytes(16))
    with pytest.raises(ValueError, match="Fernet keys"):
        ArchiveSettings(_env_file=None, terminal_passwords={"key_encryption_key": "x"})


def test_a_bad_password_is_named_by_its_rule_never_its_value() -> None:
    for bad in ("00" * 15, "zz" * 16, "00" * 17, 12):
        with pytest.raises(ValueError) as caught:
            parse_hex(bad)
        assert str(bad) not in str(caught.value) and "32 hexadecimal digits" in str(caught.value)
    assert parse_hex("0A" * 16) == bytes([10] * 16)


@pytest.mark.parametrize("address", ["3701-00012", "3701-12", "3701000C", "1101-65535", "ABCDEF0123", "x", None,
                                     "3701-99999"])
def test_the_session_key_of_an_address_is_the_feps(address: str | None) -> None:
    assert session_key(address) == terminal_key(address)


def test_the_sealed_secret_goes_to_the_bus_not_to_the_audited_image() -> None:
    after = {"terminal_id": "T1", "address": "3701-00001", "version": 2, "password": "changed"}
    row = {"change_id": uuid.uuid4(), "at": datetime(2026, 1, 1, tzinfo=UTC), "actor": "op",
           "entity": "terminal_password", "entity_id": "T1", "action": "updated",
           "before": json.dumps({**after, "version": 1}), "after": json.dumps(after),
           "sealed": json.dumps({"password_sealed": "gAAAA-token"})}
    message = to_message(row)
    assert message.data["password_sealed"] == "gAAAA-token" and message.data["version"] == 2
    assert "password_sealed" not in json.loads(str(row["after"]))
    assert "password_sealed" not in to_message({**row, "sealed": None}).data
