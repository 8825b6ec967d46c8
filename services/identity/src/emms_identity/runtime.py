"""The identity service's runtime state: built once in ``setup``, reached by routes through ``IdentityDep``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from emms_bus import BusProducer
from emms_identity.keys.keyring import Keyring
from emms_identity.passwords.hashing import Hasher
from emms_identity.settings import IdentitySettings
from emms_identity.tokens.throttle import Throttle


@dataclass
class IdentityRuntime:
    settings: IdentitySettings
    pool: asyncpg.Pool
    hasher: Hasher
    keyring: Keyring
    producer: BusProducer | None = None
    """Publishes the duty log's user changes (emms.operation.log.v1); None without a bus."""
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.settings.throttle)

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)
