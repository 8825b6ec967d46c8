"""Which database errors an outage causes (wait and retry) and which a statement causes (give up).

Retriable: the connection is gone or cannot be had (SQLSTATE class 08, asyncpg's closed
connection), the server is shutting down, starting or recovering (57P01–57P03), too many
connections (53300), a serialisation failure or deadlock (40001, 40P01: run it again), and a
read-only transaction (25006: a failover put the old primary into recovery). Everything else —
a constraint, a type, a syntax error, a missing table — fails again on every try.
"""

from __future__ import annotations

import asyncpg

RETRIABLE_SQLSTATES = frozenset({"40001", "40P01", "53300", "57P01", "57P02", "57P03", "25006"})


def is_retriable_db_error(exc: BaseException) -> bool:
    """True for an error that waiting for the database (and trying again) can cure."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state.startswith("08") or state in RETRIABLE_SQLSTATES
    if isinstance(exc, asyncpg.ConnectionDoesNotExistError):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc) or "connection was closed" in str(exc)
    return False
