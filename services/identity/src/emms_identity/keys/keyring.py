"""The signing keys of every replica: which one signs, which ones are published, rotation.

States: ``next`` (published, not yet signing — verifiers learn it before it signs anything),
``active`` (signs every token; exactly one), ``retired`` (never signs again, its private half
erased; published until every token it may have signed has expired). The first start creates an
active and a next key under an advisory lock, so replicas starting together create one of each.

Rotation promotes ``next`` to ``active``, retires the old active key and creates a new ``next``.
Every replica reads the active key from the database and keeps it at most ``keys.cache_s``, so a
rotation on one replica reaches the others within that time; a retired key stays published for
the longest token lifetime + that cache time + the verifiers' leeway + ``keys.retired_grace_s``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from emms_db.locks import advisory_key
from emms_identity.repository import signing_keys as repo
from emms_identity.settings import IdentitySettings
from emms_runtime.auth import SigningKey
from emms_runtime.auth.signing import public_jwk
from emms_runtime.errors import Unavailable

log = structlog.get_logger("emms.identity.keys")
LOCK = advisory_key("emms.identity.signing-keys")


@dataclass(frozen=True, slots=True)
class Rotation:
    retired: str | None
    active: str
    next: str


class Keyring:
    def __init__(self, pool: asyncpg.Pool, settings: IdentitySettings) -> None:
        self.pool = pool
        self.settings = settings
        self._kek = settings.kek()
        self._primary = Fernet(settings.kek_keys()[0])
        self._signing: SigningKey | None = None
        self._signing_at = 0.0
        self._published: dict[str, Ed25519PublicKey] = {}
        self._published_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def retirement_window(self) -> timedelta:
        s = self.settings
        return timedelta(seconds=s.tokens.max_access_ttl_s + s.keys.cache_s + s.auth.leeway_s
                         + s.keys.retired_grace_s)

    async def ensure(self) -> list[str]:
        """Create the active and next keys when missing (first start); re-encrypt private keys
        under the first key-encryption key. The kids created."""
        created: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
            now = datetime.now(UTC)
            for state in ("active", "next"):
                if await repo.in_state(conn, state) is None:
                    created.append(await self._create(conn, state, now))
            for row in await repo.with_private(conn):
                renewed = self._renew_encryption(row["private_key_encrypted"])
                if renewed is not None:
                    await repo.reencrypt(conn, row["kid"], renewed)
        for kid in created:
            log.info("signing key created", kid=kid)
        self.forget()
        return created

    async def _create(self, conn: Any, state: str, now: datetime) -> str:
        key = SigningKey.generate()
        public = key.private_key.public_key().public_bytes_raw()
        await repo.insert(conn, kid=key.kid, public_key=public, private_key_encrypted=self._kek.encrypt(
            key.private_bytes()), state=state, now=now)
        return key.kid

    def _renew_encryption(self, token: bytes) -> bytes | None:
        """The private key encrypted under the first key-encryption key, when it is not already."""
        try:
            self._primary.decrypt(token)
            return None
        except InvalidToken:
            pass
        try:
            return self._kek.rotate(token)
        except InvalidToken:
            raise RuntimeError("the signing keys cannot be decrypted with any of the key-encryption keys given"
                               " (EMMS_IDENTITY_KEY_ENCRYPTION_KEY): to change it, give the new key first and the"
                               " old one after it, comma-separated, until every replica has started") from None

    def forget(self) -> None:
        """Drop the cached keys (after a rotation here)."""
        self._signing = None
        self._published_at = 0.0

    async def signing_key(self) -> SigningKey:
        """The active key, read from the database at most every ``keys.cache_s``."""
        if self._signing is not None and time.monotonic() - self._signing_at < self.settings.keys.cache_s:
            return self._signing
        async with self.pool.acquire() as conn:
            row = await repo.active(conn)
        if row is None:
            raise Unavailable("no active signing key (the identity service has not finished starting)")
        if self._signing is None or self._signing.kid != row["kid"]:
            try:
                raw = self._kek.decrypt(row["private_key_encrypted"])
            except InvalidToken:
                raise Unavailable(f"signing key {row['kid']} cannot be decrypted: the key-encryption key"
                                  " (EMMS_IDENTITY_KEY_ENCRYPTION_KEY) is not the one it was encrypted with") from None
            self._signing = SigningKey.from_private_bytes(row["kid"], raw)
        self._signing_at = time.monotonic()
        return self._signing

    async def published(self, *, refresh: bool = False) -> dict[str, Ed25519PublicKey]:
        """Every published key by kid, cached ``keys.cache_s``; ``refresh`` re-reads sooner, but at
        most once a second (a stream of tokens naming forged kids is not a stream of queries)."""
        looked = time.monotonic()
        age = looked - self._published_at
        if age < self.settings.keys.cache_s and not (refresh and age >= 1.0):
            return self._published
        async with self._lock:
            if self._published_at >= looked:  # another request re-read them meanwhile
                return self._published
            async with self.pool.acquire() as conn:
                rows = await repo.published(conn, datetime.now(UTC))
            self._published = {r["kid"]: Ed25519PublicKey.from_public_bytes(bytes(r["public_key"])) for r in rows}
            self._published_at = time.monotonic()
        return self._published

    async def public_key(self, kid: str) -> Ed25519PublicKey | None:
        keys = await self.published()
        if kid not in keys:
            keys = await self.published(refresh=True)
        return keys.get(kid)

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(kid, key) for kid, key in (await self.published()).items()]}

    async def listing(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await repo.every(conn)
        now = datetime.now(UTC)
        return [{**dict(r), "published": r["state"] != "retired" or (r["publish_until"] or now) > now}
                for r in rows]

    async def rotate(self) -> Rotation:
        """Promote next → active, retire the active key, create a new next key."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
            now = datetime.now(UTC)
            current = await repo.in_state(conn, "active", for_update=True)
            upcoming = await repo.in_state(conn, "next", for_update=True)
            if current is not None:
                await repo.retire(conn, current["kid"], now=now, publish_until=now + self.retirement_window)
            if upcoming is not None:
                await repo.activate(conn, upcoming["kid"], now)
                active = upcoming["kid"]
            else:
                active = await self._create(conn, "active", now)
            new_next = await self._create(conn, "next", now)
        self.forget()
        rotation = Rotation(current["kid"] if current else None, active, new_next)
        log.info("signing keys rotated", retired=rotation.retired, active=rotation.active, next=rotation.next)
        return rotation
