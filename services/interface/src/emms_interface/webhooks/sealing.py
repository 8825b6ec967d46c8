"""Webhook signing secrets at rest: Fernet tokens under the webhook key-encryption key (KEK).

The KEK is ``EMMS_INTERFACE_WEBHOOKS__SECRET_KEY`` or ``…__SECRET_KEY_FILE`` (a mounted Secret), as
the identity service keeps its signing keys. Several comma-separated keys: the first seals, every one
unseals (KEK rotation: give the new key first and the old one after it until every row is resealed).
Development and tests use the published development key; production refuses it and refuses to start
without a key.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from emms_runtime import kek

DEV_SECRET_KEY = kek.development_key(
    "emms development webhook-secret key-encryption key - published, never for production")
"""Seals webhook secrets in development and tests only: anyone can read it here."""

_HOW = "set EMMS_INTERFACE_WEBHOOKS__SECRET_KEY or …__SECRET_KEY_FILE (a Fernet key: emms-interface generate-kek)"


def kek_keys(key: SecretStr | None, key_file: Path | None, environment: str) -> list[str]:
    """The KEKs, the sealing one first; the development key when none is set outside production.
    ValueError naming the rule (never a key) when they are missing, unreadable, malformed or published."""
    return kek.kek_keys(key, key_file, environment=environment, development=DEV_SECRET_KEY, what="webhook secrets",
                        how=_HOW, file_setting="webhooks.secret_key_file")


class SecretSealer:
    """Seals and unseals webhook secrets; :meth:`renew` reseals a token under the first key."""

    def __init__(self, keys: list[str]) -> None:
        self._all = MultiFernet([Fernet(k) for k in keys])
        self._first = Fernet(keys[0])

    def seal(self, secret: str) -> bytes:
        return self._all.encrypt(secret.encode())

    def unseal(self, token: bytes) -> str:
        try:
            return self._all.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise ValueError("a webhook secret does not open with any key-encryption key given"
                             " (EMMS_INTERFACE_WEBHOOKS__SECRET_KEY)") from None

    def renew(self, token: bytes) -> bytes | None:
        """The token sealed under the first key, or None when it already is."""
        try:
            self._first.decrypt(bytes(token))
            return None
        except InvalidToken:
            pass
        try:
            return self._all.rotate(bytes(token))
        except InvalidToken:
            raise ValueError("a webhook secret does not open with any key-encryption key given: to change the key,"
                             " give the new key first and the old one after it, comma-separated, until every"
                             " replica has started") from None
