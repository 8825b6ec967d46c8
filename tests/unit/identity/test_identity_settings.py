"""Identity settings: the port and prefix, secrets from files (Kubernetes Secrets), the development
key-encryption key refused in production, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from emms_identity.settings import DEV_KEY_ENCRYPTION_KEY, IdentitySettings

PRODUCTION = {"environment": "production", "auth": {"accept_dev_tokens": False,
                                                    "jwks_url": "http://identity:8007/.well-known/jwks.json"}}


def test_defaults() -> None:
    s = IdentitySettings(_env_file=None)  # type: ignore[call-arg]
    assert s.http.port == 8007
    assert (s.tokens.access_ttl_s, s.tokens.step_up_ttl_s, s.tokens.refresh_ttl_s) == (900, 300, 28_800)
    assert (s.passwords.min_length, s.passwords.min_classes, s.passwords.history) == (12, 3, 5)
    assert (s.lockout.max_failures, s.lockout.window_s, s.lockout.lock_s) == (5, 900, 900)
    assert s.kek_keys() == [DEV_KEY_ENCRYPTION_KEY]


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("EMMS_IDENTITY_KEY_ENCRYPTION_KEY", key)
    monkeypatch.setenv("EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD", "From-the-env-1")
    monkeypatch.setenv("EMMS_IDENTITY_LOCKOUT__MAX_FAILURES", "3")
    monkeypatch.setenv("EMMS_IDENTITY_TOKENS__ACCESS_TTL_S", "600")
    s = IdentitySettings()
    assert s.kek_keys() == [key] and s.bootstrap_password() == "From-the-env-1"
    assert s.lockout.max_failures == 3 and s.tokens.access_ttl_s == 600
    dumped = s.model_dump(mode="json")
    assert key not in str(dumped) and "From-the-env-1" not in str(dumped)


def test_secrets_from_mounted_files(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    (tmp_path / "kek").write_text(key + "\n")
    (tmp_path / "admin").write_text("Mounted-secret-7\n")
    s = IdentitySettings(_env_file=None, key_encryption_key_file=tmp_path / "kek",  # type: ignore[call-arg]
                         bootstrap_admin_password_file=tmp_path / "admin", **PRODUCTION)
    assert s.kek_keys() == [key] and s.bootstrap_password() == "Mounted-secret-7"
    with pytest.raises(ValidationError, match="cannot read"):
        IdentitySettings(_env_file=None, key_encryption_key_file=tmp_path / "missing")  # type: ignore[call-arg]


def test_production_refuses_the_development_kek_and_no_kek() -> None:
    with pytest.raises(ValidationError, match="no key-encryption key"):
        IdentitySettings(_env_file=None, **PRODUCTION)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="published development key-encryption key"):
        IdentitySettings(_env_file=None, key_encryption_key=DEV_KEY_ENCRYPTION_KEY, **PRODUCTION)  # type: ignore[call-arg]
    ok = IdentitySettings(_env_file=None, key_encryption_key=Fernet.generate_key().decode(),  # type: ignore[call-arg]
                          **PRODUCTION)
    assert ok.environment == "production"


def test_a_kek_that_is_not_a_fernet_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be Fernet keys"):
        IdentitySettings(_env_file=None, key_encryption_key="hunter2")  # type: ignore[call-arg]


def test_several_keks_the_first_encrypts() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    s = IdentitySettings(_env_file=None, key_encryption_key=f"{new}, {old}")  # type: ignore[call-arg]
    token = Fernet(old.encode()).encrypt(b"private")
    assert s.kek().decrypt(token) == b"private"
    assert Fernet(new.encode()).decrypt(s.kek().encrypt(b"x")) == b"x"
