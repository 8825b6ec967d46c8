"""OAuth2 errors (RFC 6749 §5.2, RFC 7009 §2.2.1): ``{"error", "error_description"}`` with their status."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse
from starlette.requests import Request

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, *, status: int = 400,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401,
                      headers={"WWW-Authenticate": 'Basic realm="emms", charset="UTF-8"'})


def too_many(description: str, retry_after_s: int) -> OAuthError:
    return OAuthError("too_many_requests", description, status=429, headers={"Retry-After": str(retry_after_s)})


async def oauth_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=exc.status,
                        headers={**NO_STORE, **exc.headers})
