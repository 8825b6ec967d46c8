"""The reports app as ``make up`` builds it: every route declares its response and its access, the designer
page is public (it holds no data) with a strict content security policy, and the settings refuse a client id
without its secret."""

from __future__ import annotations

import httpx
import pytest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts

from emms_reports.app import create_app
from emms_reports.settings import ReportsSettings
from emms_runtime.api_models import ApiModel
from emms_runtime.auth import routes_without_access


def test_every_route_declares_its_response_and_its_access() -> None:
    app = create_app(ReportsSettings(_env_file=None))
    assert routes_without_access(app) == []
    routes = [r for r in iter_route_contexts(app.routes)
              if isinstance(getattr(r, "original_route", r), APIRoute)]
    assert len(routes) >= 15
    for route in routes:
        cls = getattr(route.response_class, "value", route.response_class)
        model = route.response_model
        inner = getattr(model, "__args__", (model,))[0] if model is not None else None
        documented = not issubclass(cls, JSONResponse) or (isinstance(inner, type) and issubclass(inner, ApiModel))
        assert documented, f"{route.methods} {route.path} declares neither a model nor a response class"


async def test_the_designer_page_is_served_without_a_token() -> None:
    app = create_app(ReportsSettings(_env_file=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
        page = await client.get("/designer")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "报表设计" in page.text and "api/v1/reports" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        refused = await client.get("/api/v1/reports/datasets")
        assert refused.status_code == 401


def test_a_client_id_needs_its_secret() -> None:
    with pytest.raises(ValueError, match="CLIENT_SECRET"):
        ReportsSettings(_env_file=None, upstream={"client_id": "emms-reports"})
