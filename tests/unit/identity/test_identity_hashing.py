"""argon2id hashing: the format, verification, rehash at another cost, the dummy hash for unknown
accounts, the password history check."""

from __future__ import annotations

import pytest

from emms_identity.passwords.hashing import Hasher
from emms_identity.settings import HashingSettings

CHEAP = HashingSettings(time_cost=1, memory_cost_kib=1024, parallelism=1)


@pytest.fixture(scope="module")
def hasher() -> Hasher:
    return Hasher(CHEAP)


def test_hashes_are_argon2id_and_salted(hasher: Hasher) -> None:
    one, two = hasher.hash_sync("Correct-Horse-9"), hasher.hash_sync("Correct-Horse-9")
    assert one.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert one != two


def test_verify_tells_right_from_wrong(hasher: Hasher) -> None:
    stored = hasher.hash_sync("Correct-Horse-9")
    assert hasher.verify_sync(stored, "Correct-Horse-9").ok
    assert not hasher.verify_sync(stored, "correct-horse-9").ok
    assert not hasher.verify_sync("not-a-hash", "Correct-Horse-9").ok


def test_a_hash_of_another_cost_is_rehashed_at_the_current_one(hasher: Hasher) -> None:
    stronger = Hasher(HashingSettings(time_cost=2, memory_cost_kib=2048, parallelism=1))
    old = hasher.hash_sync("Correct-Horse-9")
    verified = stronger.verify_sync(old, "Correct-Horse-9")
    assert verified.ok and verified.rehash is not None and "m=2048,t=2" in verified.rehash
    assert stronger.verify_sync(verified.rehash, "Correct-Horse-9").rehash is None


async def test_an_unknown_account_costs_a_verification_and_never_matches(hasher: Hasher) -> None:
    assert not (await hasher.verify(None, "anything")).ok
    assert (await hasher.verify(await hasher.hash("x-Y-1"), "x-Y-1")).ok


async def test_the_history_check(hasher: Hasher) -> None:
    history = [hasher.hash_sync(p) for p in ("first-A-1", "second-B-2")]
    assert await hasher.in_history(history, "second-B-2")
    assert not await hasher.in_history(history, "third-C-3")
    assert not await hasher.in_history([], "first-A-1")
