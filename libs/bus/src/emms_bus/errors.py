"""Errors of the bus wrappers, and which errors an outage causes.

``is_transient`` is the bus library's half of the project's one retriable-error classification
(``emms_runtime.retriable`` adds the database's): the network is down or slow (connection
refused / reset / aborted, timeouts, unreachable hosts, name resolution during a restart) or the
broker says so (aiokafka's retriable errors, ``BusError``). A consumer whose handler fails on such
an error waits it out instead of dead-lettering the message.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

_NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
                             errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN})


class BusError(RuntimeError):
    """The broker could not be reached or refused a request."""

    retriable = True


class PermanentHandlerError(Exception):
    """Raised by a handler for a message that can never succeed: no retry, straight to the DLQ."""

    retriable = False


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its explicit causes (``raise … from``), each once; not the implicit context,
    which may be unrelated to the failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def is_transient(exc: BaseException) -> bool:
    """True for a network or broker error that waiting (and trying again) can cure; follows
    ``raise … from`` causes."""
    return any(is_transient_itself(e) for e in causes(exc))


def is_transient_itself(exc: BaseException) -> bool:
    """:func:`is_transient` for this one exception, its causes not looked at."""
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _NETWORK_ERRNOS
    if isinstance(exc, BusError):
        return exc.retriable
    if isinstance(exc, (KafkaConnectionError, KafkaTimeoutError)):  # a send that no broker took in time
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return False
