"""The designer page: plain HTML and a little JavaScript, served by the service (no front-end build).

The page itself holds no data (public); everything it shows comes from the API with the bearer token
the user pastes or signs in for."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from emms_runtime.auth import PUBLIC

router = APIRouter(tags=["designer"])
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"


@router.get("/designer", response_class=HTMLResponse, openapi_extra=PUBLIC,
            summary="The report designer: a form, a live preview and export buttons")
async def designer() -> HTMLResponse:
    page = files("emms_reports.web").joinpath("designer.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP})
