"""The key-encryption key (KEK) of terminal passwords, and sealing a PW under it.

A terminal's 16-byte PW is kept and published only as a Fernet token under the KEK
(``EMMS_ARCHIVE_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY`` or ``…_FILE``, a mounted Secret), as the
identity service keeps its signing keys. The FEP holds the same KEK to unseal what it sends.
Several comma-separated keys: the first seals, every one unseals (KEK rotation). Development and
tests use the published development key; production refuses it, and production without a key
keeps no terminal password (the routes answer 503, the FEP sends its default PW).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, SecretStr

from emms_runtime import kek

DEV_KEY_ENCRYPTION_KEY = kek.TERMINAL_PASSWORDS_DEVELOPMENT_KEY
"""Seals terminal passwords in development and tests only: anyone can read it here (and in the FEP)."""
_HOW = "set EMMS_ARCHIVE_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY or …_FILE (a Fernet key; the FEP holds the same)"

PW_LEN = 16
_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


class TerminalPasswordSettings(BaseModel):
    """``EMMS_ARCHIVE_TERMINAL_PASSWORDS__…``"""

    key_encryption_key: SecretStr | None = None
    """One or more Fernet keys, comma-separated; the FEP must hold the same."""
    key_encryption_key_file: Path | None = None
    """A file holding the KEK (a mounted Kubernetes Secret); wins over ``key_encryption_key``."""
    rotation_timeout_s: float = Field(default=60.0, ge=5, le=3600)
    """A rotation with no result from the FEP this long after it was sent is reported failed."""

    def keys(self, environment: str) -> list[str]:
        """The KEKs, the sealing one first; [] in production without the Secret (no terminal has its own PW
        until it is mounted)."""
        return kek.kek_keys(self.key_encryption_key, self.key_encryption_key_file, environment=environment,
                            development=DEV_KEY_ENCRYPTION_KEY, what="terminal passwords", how=_HOW,
                            file_setting="terminal_passwords.key_encryption_key_file", required=False)


class Sealer:
    """Seals and unseals 16-byte PWs under the KEK (none: production without the Secret — no PW can be kept)."""

    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, password: bytes) -> str:
        if len(password) != PW_LEN:
            raise ValueError("a terminal password is 16 bytes")
        if self._fernet is None:
            raise ValueError("no terminal-password key-encryption key")
        return self._fernet.encrypt(password).decode()

    def unseal(self, token: str) -> bytes:
        if self._fernet is None:
            raise ValueError("no terminal-password key-encryption key")
        try:
            password = self._fernet.decrypt(token.encode())
        except InvalidToken:
            raise ValueError("a sealed terminal password does not open with the key-encryption key") from None
        if len(password) != PW_LEN:
            raise ValueError("a sealed terminal password is not 16 bytes")
        return password


def parse_hex(text: object) -> bytes:
    """The PW of ``password_hex`` (32 hex digits); ValueError naming the rule, never the value."""
    if not isinstance(text, str) or not _HEX.match(text):
        raise ValueError("password_hex must be 32 hexadecimal digits (16 bytes)")
    return bytes.fromhex(text)


def generate() -> bytes:
    """A fresh random PW for a rotation."""
    return secrets.token_bytes(PW_LEN)
