"""Ed25519 signing keys, their public JWKs, and the development key of ``emms-token``.

Only the identity service holds private keys in production; every other service verifies with
the public keys it reads from the identity service's JWKS. The development key is derived from
a published seed, so anyone can mint tokens with it: production settings refuse it
(:class:`emms_runtime.settings.AuthSettings`).
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from emms_runtime.auth.permissions import BUILTIN_ROLES, STEP_UP_ACR, USER_LIMITS

ALGORITHM = "EdDSA"
DEV_KID = "emms-development"
_DEV_SEED = hashlib.sha256(b"emms development signing key - published, never for production").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or f"ed25519-{uuid.uuid4().hex[:16]}", Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, kid: str, raw: bytes) -> SigningKey:
        return cls(kid, Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.private_key.public_key())

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.private_key, algorithm=ALGORITHM,
                          headers={"kid": self.kid, "typ": "at+jwt"})


def public_jwk(kid: str, key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "alg": ALGORITHM, "use": "sig"}


def public_key_of(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError(f"not an Ed25519 key: kty={jwk.get('kty')!r} crv={jwk.get('crv')!r}")
    return Ed25519PublicKey.from_public_bytes(_unb64(str(jwk["x"])))


def development_key() -> SigningKey:
    return SigningKey.from_private_bytes(DEV_KID, _DEV_SEED)


def issue_token(settings: Any, subject: str, role: str, *, ttl_s: int = 3600,
                companies: tuple[str, ...] = (), regions: tuple[str, ...] = (),
                customers: tuple[str, ...] = (), step_up: bool = False) -> str:
    """A development token with one built-in role, signed with the development key (``emms-token``)."""
    if role not in BUILTIN_ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(BUILTIN_ROLES)}")
    now = int(time.time())
    max_rows, per_minute = USER_LIMITS[role]
    claims: dict[str, Any] = {
        "sub": subject, "iss": settings.issuer, "aud": settings.audience, "iat": now, "exp": now + ttl_s,
        "jti": uuid.uuid4().hex, "kind": "dev", "roles": [role], "perms": sorted(BUILTIN_ROLES[role]),
        "companies": list(companies), "regions": list(regions), "customers": list(customers),
        "auth_time": now, "max_rows": max_rows, "per_minute": per_minute,
    }
    if step_up:
        claims["acr"] = STEP_UP_ACR
    return development_key().sign(claims)
