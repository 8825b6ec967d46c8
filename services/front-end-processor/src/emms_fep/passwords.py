"""Each terminal's own PW, from master data, for the downlink frames that carry one (AFN 01/04/05/06/0F/10).

The archive publishes a terminal's password as ``MasterDataChange(entity="terminal_password")``
whose ``data.password_sealed`` is a Fernet token under the terminal-password key-encryption key
(KEK) that the archive and the FEP share (``EMMS_FEP_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY`` or
``…_FILE``: the same Secret as the archive's). The master-data consumer (:mod:`emms_fep.masterdata`)
stores the token as it came (table ``terminal_passwords``, migration 0006; a newer version wins,
so a redelivered or late change never brings back an older PW). :class:`PasswordBook` keeps the
unsealed PWs in memory by session key, read from that table at start, after every applied change
and every ``refresh_s`` (every replica's consumer is in one group: a change applied by another
replica arrives through the table). The PW is never logged and never published.

A terminal without its own PW gets ``downlink.password_hex`` (the factory default, all zeros),
unless ``terminal_passwords.default_allowed`` is false (production with every terminal's PW in
master data): then a request to it is rejected ("no password").

AFN04 F5 (a rotation) carries the new PW sealed in its unit data, ``{"sealed_password": token}``;
:func:`f5_data` builds the unit's bytes (docs/protocol.md: scheme 1, parameter 16, the 16 PW bytes —
the standard's derivation of the PW from the parameter is the vendors' and not public).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, SecretStr

from emms_db.connection import Connection
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_runtime import kek
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.fep.passwords")

DEV_KEY_ENCRYPTION_KEY = kek.TERMINAL_PASSWORDS_DEVELOPMENT_KEY
"""The archive's development KEK (``emms_archive.passwords.sealing``): development and tests only."""
_HOW = "set EMMS_FEP_TERMINAL_PASSWORDS__KEY_ENCRYPTION_KEY or …_FILE (the archive's key)"

ENTITY = "terminal_password"
PW_LEN = 16
_LATE_COMMIT = timedelta(seconds=30)
"""Rows are re-read this far back: a transaction that stamped ``updated_at`` earlier may commit later."""
SEALED_FIELD = "password_sealed"
F5_PLAIN_SCHEME = 0x01


class TerminalPasswordSettings(BaseModel):
    """``EMMS_FEP_TERMINAL_PASSWORDS__…``"""

    key_encryption_key: SecretStr | None = None
    """The archive's terminal-password KEK (one or more Fernet keys, comma-separated)."""
    key_encryption_key_file: Path | None = None
    default_allowed: bool = True
    """Send ``downlink.password_hex`` to terminals without their own PW; false: reject such requests."""
    refresh_s: float = Field(default=2.0, gt=0, le=300)
    """How often the book reads changes another replica applied."""

    def keys(self, environment: str) -> list[str]:
        """The KEKs, the sealing one first; [] in production without the Secret (no terminal has its own PW
        until it is mounted)."""
        return kek.kek_keys(self.key_encryption_key, self.key_encryption_key_file, environment=environment,
                            development=DEV_KEY_ENCRYPTION_KEY, what="terminal passwords", how=_HOW,
                            file_setting="terminal_passwords.key_encryption_key_file", required=False)


class Unsealer:
    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    def __call__(self, token: str) -> bytes:
        """The PW of a sealed token; ValueError (without the token) when it does not open or is not 16 bytes."""
        if self._fernet is None:
            raise ValueError("no terminal-password key-encryption key is configured")
        try:
            password = self._fernet.decrypt(token.encode())
        except (InvalidToken, ValueError, TypeError):
            raise ValueError("the sealed password does not open with the key-encryption key") from None
        if len(password) != PW_LEN:
            raise ValueError("the sealed password is not 16 bytes")
        return password


def f5_data(password: bytes) -> bytes:
    """AFN04 F5 data as EMMS sends it: scheme 1 (plain PW), parameter 16 (LE), the 16 PW bytes."""
    if len(password) != PW_LEN:
        raise ValueError("a terminal password is 16 bytes")
    return bytes((F5_PLAIN_SCHEME,)) + PW_LEN.to_bytes(2, "little") + password


async def apply_change(conn: Connection, schema: str, change: MasterDataChange, terminal: str | None) -> None:
    """One ``terminal_password`` change: keep the sealed PW of the newest version (the archive never removes
    one: a terminal whose password is dropped keeps the last until it gets a new one)."""
    if change.kind is ChangeKind.REMOVED:
        return
    sealed = change.data.get(SEALED_FIELD)
    version = change.data.get("version")
    if not isinstance(sealed, str) or not sealed or not isinstance(version, int):
        raise ValueError("a terminal_password change without its sealed password and version")
    await conn.execute(
        f"INSERT INTO {schema}.terminal_passwords (terminal_id, terminal, sealed, version) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (terminal_id) DO UPDATE SET terminal = COALESCE(EXCLUDED.terminal, terminal_passwords.terminal),"
        " sealed = EXCLUDED.sealed, version = EXCLUDED.version, updated_at = now()"
        " WHERE EXCLUDED.version >= terminal_passwords.version",
        change.entity_id, terminal, sealed, version)


class PasswordBook:
    """The unsealed PW of every terminal that has one, by session key (``AAAA-TTTTT``)."""

    def __init__(self, pool: asyncpg.Pool, schema: str, unseal: Unsealer, refresh_s: float) -> None:
        self._pool = pool
        self._schema = schema
        self.unseal = unseal
        self._by_terminal: dict[str, tuple[int, bytes]] = {}
        self._since: datetime | None = None
        self._worker = PeriodicWorker("fep-terminal-passwords", self.refresh, refresh_s)
        self.unusable: set[str] = set()
        """Terminals whose sealed PW does not open (another KEK?): their requests are rejected."""

    def __len__(self) -> int:
        return len(self._by_terminal)

    def lookup(self, terminal: str) -> bytes | None:
        """The terminal's own PW; None when master data has none. ValueError when it has one that does not open."""
        if terminal in self.unusable:
            raise ValueError("the terminal's password in master data does not open with the key-encryption key")
        entry = self._by_terminal.get(terminal)
        return None if entry is None else entry[1]

    def version(self, terminal: str) -> int:
        entry = self._by_terminal.get(terminal)
        return 0 if entry is None else entry[0]

    def poke(self) -> None:
        """A change was applied here: read it now."""
        self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        await self._worker.run(stop)

    async def refresh(self) -> int:
        """Read the rows changed since the last read (all at the first); the number read."""
        since = self._since
        query = f"SELECT terminal, sealed, version, updated_at FROM {self._schema}.terminal_passwords"
        async with self._pool.acquire() as conn:
            rows: list[Any] = (await conn.fetch(query) if since is None
                               else await conn.fetch(query + " WHERE updated_at >= $1", since - _LATE_COMMIT))
            if since is None:
                self._by_terminal.clear()
        for row in rows:
            terminal = row["terminal"]
            if terminal is None:
                continue
            try:
                password = self.unseal(row["sealed"])
            except ValueError:
                self.unusable.add(terminal)
                log.warning("a terminal's password does not open with the key-encryption key; its commands"
                            " are rejected", terminal=terminal, version=row["version"])
                continue
            self.unusable.discard(terminal)
            self._by_terminal[terminal] = (int(row["version"]), password)
            stamp = row["updated_at"]
            if self._since is None or stamp > self._since:
                self._since = stamp
        if self._since is None:
            self._since = datetime.fromtimestamp(0, tz=UTC)
        return len(rows)
