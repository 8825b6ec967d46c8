"""``emms-identity``: serves by default; ``generate-kek`` prints a key-encryption key the settings accept."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from emms_identity import __main__ as cli
from emms_identity.settings import IdentitySettings


def test_generate_kek_prints_a_fernet_key_production_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["generate-kek"])
    key = capsys.readouterr().out.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"k")) == b"k"
    settings = IdentitySettings(_env_file=None, environment="production", key_encryption_key=key,  # type: ignore[call-arg]
                                auth={"accept_dev_tokens": False, "jwks_url": "http://identity:8007/.well-known/jwks.json"})
    assert settings.kek_keys() == [key]


def test_the_default_command_serves_the_identity_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[object, str]] = []
    monkeypatch.setattr(cli, "serve", lambda app, settings, service: served.append((settings, service)))
    cli.main([])
    cli.main(["serve"])
    assert [service for _, service in served] == ["identity", "identity"]
    assert all(isinstance(s, IdentitySettings) and s.http.port == 8007 for s, _ in served)
