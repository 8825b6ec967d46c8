"""The key-encryption-key rules kept once for every sealed secret (signing keys, terminal passwords, webhook
secrets): the file wins over the value, the first key seals, the published key only outside production."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from emms_runtime import kek

DEV = kek.development_key("a test's published seed")
RULES = {"development": DEV, "what": "test secrets", "how": "set EMMS_TEST_KEY", "file_setting": "test.key_file"}


def test_without_a_setting_development_gets_the_published_key_and_production_none() -> None:
    assert kek.kek_keys(None, None, environment="development", **RULES) == [DEV]
    with pytest.raises(ValueError, match="no key-encryption key for test secrets: set EMMS_TEST_KEY"):
        kek.kek_keys(None, None, environment="production", **RULES)
    assert kek.kek_keys(None, None, environment="production", required=False, **RULES) == []


def test_several_keys_the_first_seals_and_the_file_wins(tmp_path: Path) -> None:
    new, old = kek.generate(), kek.generate()
    assert kek.kek_keys(SecretStr(f" {new} , {old},"), None, environment="production", **RULES) == [new, old]
    mounted = tmp_path / "kek"
    mounted.write_text(f"{old}\n")
    assert kek.kek_keys(SecretStr(new), mounted, environment="production", **RULES) == [old]
    Fernet(new)  # a real Fernet key


def test_bad_keys_are_refused_without_showing_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="production must not seal test secrets with the published") as exc:
        kek.kek_keys(SecretStr(DEV), None, environment="production", **RULES)
    assert DEV not in str(exc.value)
    with pytest.raises(ValueError, match="must be Fernet keys") as exc:
        kek.kek_keys(SecretStr("not-a-key-at-all"), None, environment="test", **RULES)
    assert "not-a-key-at-all" not in str(exc.value)
    with pytest.raises(ValueError, match=r"test\.key_file: cannot read"):
        kek.kek_keys(None, tmp_path / "absent", environment="test", **RULES)


def test_the_command_line_prints_a_new_key_or_serves(capsys: pytest.CaptureFixture[str]) -> None:
    served: list[bool] = []
    kek.serve_or_generate(["generate-kek"], prog="emms-test", description="d", sealed="test secrets",
                          serve_it=lambda: served.append(True))
    Fernet(capsys.readouterr().out.strip())
    assert served == []
    kek.serve_or_generate([], prog="emms-test", description="d", sealed="test secrets",
                          serve_it=lambda: served.append(True))
    assert served == [True]
