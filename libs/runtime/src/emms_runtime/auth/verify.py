"""Token verification: EdDSA signatures against the identity service's JWKS, cached.

The JWKS is fetched on first use, refreshed every ``jwks_cache_s`` and at once when a token names
a key id the cache does not hold (a key rotated in) — but not more often than every
``jwks_refresh_min_s``, so a stream of forged key ids cannot turn into a stream of fetches.
When the identity service cannot be reached the cached keys keep working; a token whose key is
unknown then is refused with 503 (cannot verify now), not 401.

A verified token is remembered (keyed by the whole token, signature included, so nothing else can
hit it) until it expires, up to ``verified_cache_size`` tokens: a system reusing its access token
for its whole lifetime pays the signature check once per service instance, not per request. A
key withdrawn from the JWKS stops a remembered token only at its expiry (at most the access-token
lifetime) — the same window the ``jwks_cache_s`` refresh already leaves.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from emms_runtime.auth.principal import ClaimsError, Principal
from emms_runtime.auth.signing import ALGORITHM, DEV_KID, development_key, public_key_of

log = structlog.get_logger("emms.auth")


class TokenRejected(Exception):
    """The token is not acceptable (401)."""


class VerificationUnavailable(Exception):
    """The token names a key that cannot be fetched now (503)."""


class TokenVerifier:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at = 0.0
        self._attempted_at = 0.0
        self._lock = asyncio.Lock()
        self._dev_public = development_key().private_key.public_key()
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            if remembered[0] > time.time():
                self._verified.move_to_end(token)
                return remembered[1]
            del self._verified[token]
        principal, expires = await self._verify(token)
        size = int(getattr(self.settings, "verified_cache_size", 0))
        if size > 0:
            self._verified[token] = (expires, principal)
            while len(self._verified) > size:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise TokenRejected(f"invalid token: algorithm {header.get('alg')!r} is not accepted; tokens are"
                                f" signed with {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("invalid token: no key id (kid) in its header")
        key = await self.key_for(kid)
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.settings.audience,
                                issuer=self.settings.issuer, leeway=self.settings.leeway_s,
                                options={"require": ["sub", "exp", "iat", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None
        try:
            return Principal.from_claims(claims), float(claims["exp"]) + self.settings.leeway_s
        except ClaimsError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None

    async def key_for(self, kid: str) -> Ed25519PublicKey:
        """The public key of ``kid`` (a subclass may look elsewhere first, as the identity service does)."""
        if kid == DEV_KID:
            if not self.settings.accept_dev_tokens:
                raise TokenRejected("invalid token: development tokens (emms-token) are not accepted here")
            return self._dev_public
        if not self.settings.jwks_url:
            raise TokenRejected(f"invalid token: unknown signing key {kid!r} (no identity service configured)")
        stale = time.monotonic() - self._fetched_at > self.settings.jwks_cache_s
        if kid not in self._keys or stale:
            await self._refresh(force=kid not in self._keys)
        key = self._keys.get(kid)
        if key is None:
            raise TokenRejected(f"invalid token: unknown signing key {kid!r}")
        return key

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if now - self._attempted_at < self.settings.jwks_refresh_min_s:
                return
            self._attempted_at = now
            try:
                async with httpx.AsyncClient(timeout=self.settings.jwks_timeout_s) as client:
                    resp = await client.get(self.settings.jwks_url)
                    resp.raise_for_status()
                    document = resp.json()
                keys = {str(k["kid"]): public_key_of(k) for k in document.get("keys", ())
                        if k.get("alg", ALGORITHM) == ALGORITHM}
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning("jwks fetch failed", url=self.settings.jwks_url, error=str(exc))
                if force:
                    raise VerificationUnavailable(f"cannot fetch signing keys from {self.settings.jwks_url}: {exc}"
                                                  ) from None
                return
            self._keys = keys
            self._fetched_at = now
            log.info("jwks refreshed", keys=sorted(keys))
