"""Shared service runtime: settings, logs, metrics, health, auth and the app factory."""

from emms_runtime.app import create_service_app
from emms_runtime.auth import Principal, PrincipalDep, require_role
from emms_runtime.serve import serve
from emms_runtime.service import ServiceRuntime, ServiceSpec
from emms_runtime.settings import ServiceSettings, service_config

__all__ = [
    "Principal", "PrincipalDep", "ServiceRuntime", "ServiceSettings", "ServiceSpec",
    "create_service_app", "require_role", "serve", "service_config",
]
