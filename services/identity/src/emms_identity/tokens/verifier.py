"""How the identity service checks the tokens sent to its own API: against its own published keys,
read from the database (no HTTP round trip to itself), with the development key when allowed."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from emms_identity.keys.keyring import Keyring
from emms_runtime.auth import DEV_KID, TokenVerifier
from emms_runtime.auth.verify import TokenRejected, VerificationUnavailable
from emms_runtime.settings import AuthSettings


class LocalTokenVerifier(TokenVerifier):
    def __init__(self, settings: AuthSettings, keyring: Callable[[], Keyring | None]) -> None:
        super().__init__(settings)
        self._keyring = keyring

    async def key_for(self, kid: str) -> Ed25519PublicKey:
        if kid == DEV_KID:
            return await super().key_for(kid)
        keyring = self._keyring()
        if keyring is None:
            raise VerificationUnavailable("the identity service is starting; its keys are not loaded yet")
        key = await keyring.public_key(kid)
        if key is None:
            raise TokenRejected(f"invalid token: unknown signing key {kid!r}")
        return key
