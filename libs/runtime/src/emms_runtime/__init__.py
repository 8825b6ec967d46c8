"""Shared service runtime: settings, logs, metrics, health, auth and the app factory."""

from emms_runtime.app import create_service_app
from emms_runtime.auth import Permission, Principal, PrincipalDep, require
from emms_runtime.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
    UpstreamTimeout,
)
from emms_runtime.serve import serve
from emms_runtime.service import ServiceRuntime, ServiceSpec
from emms_runtime.settings import ServiceSettings, service_config
from emms_runtime.state import state_dependency, state_of

__all__ = [
    "BadRequest", "Conflict", "DomainError", "Forbidden", "Invalid", "NotFound", "PayloadTooLarge", "Permission",
    "Principal",
    "PrincipalDep", "ServiceRuntime", "ServiceSettings", "ServiceSpec", "TooManyRequests", "Unavailable",
    "UpstreamTimeout", "create_service_app", "require", "serve", "service_config", "state_dependency",
    "state_of",
]
