"""Errors of the bus wrappers."""

from __future__ import annotations


class BusError(RuntimeError):
    """The broker could not be reached or refused a request."""

    retriable = True


class PermanentHandlerError(Exception):
    """Raised by a handler for a message that can never succeed: no retry, straight to the DLQ."""

    retriable = False
