"""Domain errors and the one handler that turns them into HTTP statuses.

Domain code (and route handlers) raise a :class:`DomainError` subclass with a reason a
caller can act on; they never build an HTTP response or an ``HTTPException``.
:func:`emms_runtime.app.create_service_app` registers :func:`domain_error_handler` on
every service app, which answers ``{"detail": reason}`` with the class's status (and
its headers: ``Retry-After`` for :class:`TooManyRequests`).

=======================  ======
error                    status
=======================  ======
:class:`BadRequest`      400
:class:`Forbidden`       403
:class:`NotFound`        404
:class:`Conflict`        409
:class:`PayloadTooLarge` 413
:class:`Invalid`         422
:class:`TooManyRequests` 429 (``Retry-After``)
:class:`Unavailable`     503
:class:`UpstreamTimeout` 504
=======================  ======

Authentication (401) stays in :mod:`emms_runtime.auth`, which is the HTTP edge itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from fastapi.responses import JSONResponse
from starlette.requests import Request


class DomainError(Exception):
    """A request the domain refuses, with the reason told to the caller."""

    status_code: ClassVar[int] = 400

    def __init__(self, reason: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(DomainError):
    """The request cannot be understood as sent (a malformed body, a missing selector)."""

    status_code = 400


class Forbidden(DomainError):
    """The caller may not see or change this (outside its data scope)."""

    status_code = 403


class NotFound(DomainError):
    """The thing named does not exist."""

    status_code = 404


class Conflict(DomainError):
    """The request contradicts the current state (a duplicate, a stale version, a wrong state)."""

    status_code = 409


class PayloadTooLarge(DomainError):
    """The body is larger than the service takes at once."""

    status_code = 413


class Invalid(DomainError):
    """The request is well formed but its values are not acceptable."""

    status_code = 422


class TooManyRequests(DomainError):
    """The caller is over its rate; it may retry after ``retry_after_s`` seconds."""

    status_code = 429

    def __init__(self, reason: str, *, retry_after_s: int) -> None:
        super().__init__(reason, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    """The service cannot answer now (not started, a dependency is down)."""

    status_code = 503


class UpstreamTimeout(DomainError):
    """A device or service the request depends on did not answer in time."""

    status_code = 504


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": reason}`` with the error's status and headers."""
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.reason}, status_code=exc.status_code, headers=exc.headers or None)
