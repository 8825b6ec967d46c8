"""Every route of every service documents what it returns.

Each service's app is built as ``make up`` builds it (``create_app(Settings())``, nothing
started); every ``APIRoute`` must declare a pydantic response model (``response_model=``
or a return annotation; a list of models counts) or, for a body that is not JSON (CSV,
XLSX, metrics, 204 No Content), a ``response_class`` that is not a ``JSONResponse``.
A route returning a bare ``dict`` / ``list[dict]`` fails here.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from emms_analytics.app import create_app as analytics_app
from emms_analytics.settings import AnalyticsSettings
from emms_archive.app import create_app as archive_app
from emms_archive.settings import ArchiveSettings
from emms_collector.app import create_app as collector_app
from emms_collector.settings import CollectorSettings
from emms_control.app import create_app as control_app
from emms_control.settings import ControlSettings
from emms_fep.app import create_app as fep_app
from emms_fep.settings import FepSettings
from emms_operations.app import create_app as operations_app
from emms_operations.settings import OperationsSettings
from emms_runtime.api_models import ApiModel
from emms_validator.app import create_app as validator_app
from emms_validator.settings import ValidatorSettings

APPS: dict[str, Callable[[], FastAPI]] = {
    "analytics": lambda: analytics_app(AnalyticsSettings()),
    "archive": lambda: archive_app(ArchiveSettings()),
    "collector": lambda: collector_app(CollectorSettings()),
    "control": lambda: control_app(ControlSettings()),
    "front-end-processor": lambda: fep_app(FepSettings()),
    "operations": lambda: operations_app(OperationsSettings()),
    "validator": lambda: validator_app(ValidatorSettings()),
}


def api_routes(app: FastAPI) -> Iterator[tuple[str, Any, type]]:
    """(methods + path, response model, response class) of every API route, routers included."""
    try:  # FastAPI ≥ 0.160 includes routers lazily; the effective route carries the merged settings
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: included routes are APIRoutes
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for route in contexts:
        original = getattr(route, "original_route", route)
        if not isinstance(original, APIRoute):
            continue
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        yield f"{','.join(sorted(route.methods))} {route.path}", route.response_model, response_class


def documents_its_body(model: Any, response_class: type) -> bool:
    if not issubclass(response_class, JSONResponse):
        return True  # CSV, XLSX, metrics, 204: documented by the class (and responses=)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return True
    if typing.get_origin(model) is list:
        (item,) = typing.get_args(model)
        return isinstance(item, type) and issubclass(item, BaseModel)
    return False


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_declares_its_response(service: str) -> None:
    routes = list(api_routes(APPS[service]()))
    assert len(routes) >= 4, "the runtime's health and service routes at least"
    undocumented = [f"{name} → {model}" for name, model, cls in routes if not documents_its_body(model, cls)]
    assert not undocumented, f"{service}: routes without a response model:\n" + "\n".join(undocumented)


def test_the_check_tells_a_bare_dict_from_a_model() -> None:
    class Body(ApiModel):
        n: int

    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, Any]:
        return {}

    @app.get("/model", response_model=Body)
    async def model() -> dict[str, Any]:
        return {"n": 1}

    @app.get("/many", response_model=list[Body])
    async def many() -> list[dict[str, Any]]:
        return []

    verdicts = {name: documents_its_body(m, cls) for name, m, cls in api_routes(app)}
    assert verdicts == {"GET /bare": False, "GET /model": True, "GET /many": True}
