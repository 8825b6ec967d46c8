"""Deterministic pseudo-random draws keyed by integers (seed, meter, day, ...).

Every random quantity of the fleet is a pure function of a key, so any process
computes the same value for the same key without replaying history. Python's
own ``hash`` is salted for strings, so only integer mixing (SplitMix64) is used.
"""

from __future__ import annotations

import _random
import random
import zlib

_MASK = (1 << 64) - 1
_INV53 = 1.0 / (1 << 53)


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix(*parts: int) -> int:
    """A 64-bit hash of the integer parts, stable across processes and versions."""
    h = 0x243F6A8885A308D3
    for p in parts:
        h = _splitmix(h ^ (p & _MASK))
    return h


def mix_more(h: int, *parts: int) -> int:
    """``mix(*a, *b)`` given ``h = mix(*a)``: draws sharing a key prefix hash it once."""
    for p in parts:
        h = _splitmix(h ^ (p & _MASK))
    return h


def unit_of(h: int) -> float:
    """The uniform draw in [0, 1) of an already mixed key (``unit(*k) == unit_of(mix(*k))``)."""
    return (h >> 11) * _INV53


def unit(*parts: int) -> float:
    """A uniform draw in [0, 1) for the key ``parts``."""
    return (mix(*parts) >> 11) * _INV53


def chance(rate: float, *parts: int) -> bool:
    """True with probability ``rate`` for the key ``parts``."""
    return rate > 0.0 and unit(*parts) < rate


def text_key(text: str) -> int:
    """A stable integer for a short string (item names, kinds)."""
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


def rng(*parts: int) -> random.Random:
    """A Mersenne-Twister stream for the key: cheap when many draws share a key (a day's 96 slots)."""
    return random.Random(mix(*parts))


def draws(count: int, *parts: int) -> list[float]:
    """The first ``count`` draws of ``rng(*parts)`` — the same numbers: ``random.Random(n)`` seeds its C base
    class with ``n`` and draws from it; here the base class alone (no Python-level ``seed``), one per call, so
    threads (the truth API serves from a pool) never share a generator."""
    draw = _random.Random(mix(*parts)).random
    return [draw() for _ in range(count)]


# Channel / purpose tags mixed into keys so unrelated draws never collide.
TAG_METER = 1
TAG_DAY = 2
TAG_NOISE = 3
TAG_OUTAGE = 4
TAG_COVER = 5
TAG_LEAK = 6
TAG_REPLACE = 7
TAG_REMOVE = 8
TAG_ADD = 9
TAG_DRIFT = 10
TAG_TERMINAL = 11
TAG_FAULT = 12
TAG_PASSWORD = 13
