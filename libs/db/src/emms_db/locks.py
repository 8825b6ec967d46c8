"""Advisory lock keys: one 64-bit key per name, the same in every process and replica."""

from __future__ import annotations

import hashlib


def advisory_key(name: str) -> int:
    """The signed 64-bit key ``pg_advisory_lock`` takes for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
