"""One classification: outages (network, broker, database) are retriable, errors of the work are not."""

from __future__ import annotations

import errno

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)

from emms_bus.errors import BusError, PermanentHandlerError, is_transient
from emms_db.errors import is_retriable_db_error
from emms_runtime.retriable import is_retriable

OUTAGES = [
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    ConnectionResetError(errno.ECONNRESET, "reset by peer"),
    TimeoutError("timed out"),
    OSError(errno.EHOSTUNREACH, "no route to host"),
    KafkaConnectionError("broker gone"),
    KafkaTimeoutError(),
    NotLeaderForPartitionError(),  # a leader election
    BusError("broker unreachable"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),  # 08006
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),  # 57P03
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
    asyncpg.exceptions.TooManyConnectionsError("too many clients"),  # 53300
    asyncpg.exceptions.SerializationError("could not serialize access"),  # 40001
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),  # 40P01
    asyncpg.exceptions.ReadOnlySQLTransactionError("read-only transaction"),  # 25006: a failover
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
]
FAULTS = [
    ValueError("bad value"),
    KeyError("item"),
    FileNotFoundError(errno.ENOENT, "no such file"),
    PermissionError(errno.EACCES, "denied"),
    PermanentHandlerError("poison"),
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.UndefinedTableError("relation does not exist"),
    asyncpg.exceptions.DataError("invalid input syntax"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    MessageSizeTooLargeError(),
    TopicAuthorizationFailedError(),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_outages_are_retriable(exc: BaseException) -> None:
    assert is_retriable(exc)


@pytest.mark.parametrize("exc", FAULTS, ids=lambda e: type(e).__name__)
def test_errors_of_the_work_are_not(exc: BaseException) -> None:
    assert not is_retriable(exc)


def test_each_library_knows_its_half() -> None:
    db_outage = asyncpg.exceptions.CannotConnectNowError("starting up")
    assert is_retriable_db_error(db_outage) and not is_transient(db_outage)
    assert is_transient(KafkaConnectionError()) and not is_retriable_db_error(KafkaConnectionError())


def _raise(outer: type[Exception], *, chained: bool) -> None:
    try:
        raise ConnectionResetError(errno.ECONNRESET, "reset")
    except ConnectionResetError as inner:
        if chained:
            raise outer("storing the batch failed") from inner
        raise outer("a bug while handling it")  # noqa: B904 — only the implicit context, on purpose


def test_an_explicit_cause_counts_and_an_unrelated_context_does_not() -> None:
    with pytest.raises(RuntimeError) as wrapped:
        _raise(RuntimeError, chained=True)
    assert is_retriable(wrapped.value)
    with pytest.raises(ValueError, match="a bug") as unrelated:
        _raise(ValueError, chained=False)
    assert not is_retriable(unrelated.value)
