"""argon2id password and secret hashing (argon2-cffi), with constant work for unknown accounts.

argon2 is memory-hard and deliberately slow (tens of milliseconds at the default cost), so every
hash and verify runs in a worker thread, never on the event loop. A sign-in for a username that
does not exist verifies against a dummy hash of the same cost, so the answer's timing does not
tell whether the account exists.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from emms_identity.settings import HashingSettings


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    rehash: str | None = None
    """A new hash at the current cost, when the stored one was made at another."""


class Hasher:
    def __init__(self, settings: HashingSettings) -> None:
        self._hasher = PasswordHasher(time_cost=settings.time_cost, memory_cost=settings.memory_cost_kib,
                                      parallelism=settings.parallelism, type=Type.ID)
        self._dummy = self._hasher.hash(secrets.token_urlsafe(24))

    def hash_sync(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify_sync(self, stored: str, secret: str) -> Verified:
        try:
            self._hasher.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verified(False)
        if self._hasher.check_needs_rehash(stored):
            return Verified(True, self._hasher.hash(secret))
        return Verified(True)

    def matches_sync(self, stored: str, secret: str) -> bool:
        """A plain check (password history): no rehash."""
        try:
            return self._hasher.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self.hash_sync, secret)

    async def verify(self, stored: str | None, secret: str) -> Verified:
        """Check ``secret`` against ``stored``; against the dummy hash (same work, always False) when None."""
        if stored is None:
            await asyncio.to_thread(self.verify_sync, self._dummy, secret)
            return Verified(False)
        return await asyncio.to_thread(self.verify_sync, stored, secret)

    async def in_history(self, history: list[str], secret: str) -> bool:
        return await asyncio.to_thread(lambda: any(self.matches_sync(h, secret) for h in history))
