"""Domain errors become HTTP statuses in one place: the handler every service app registers."""

from __future__ import annotations

import asyncio
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from emms_runtime import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    ServiceRuntime,
    ServiceSettings,
    ServiceSpec,
    TooManyRequests,
    Unavailable,
    UpstreamTimeout,
    create_service_app,
    state_dependency,
    state_of,
)

ERRORS: dict[str, DomainError] = {
    "bad": BadRequest("the body is not JSON"), "forbidden": Forbidden("outside your data scope"),
    "missing": NotFound("no task t-1"), "conflict": Conflict("t-1 exists"),
    "large": PayloadTooLarge("at most 10 rows"), "invalid": Invalid("limit 11 is above 10"),
    "busy": TooManyRequests("more than 60 a minute", retry_after_s=60), "down": Unavailable("not running"),
    "late": UpstreamTimeout("terminal 0171-00001 did not answer"),
}
STATUS = {"bad": 400, "forbidden": 403, "missing": 404, "conflict": 409, "large": 413, "invalid": 422,
          "busy": 429, "down": 503, "late": 504}


class Domain:
    pass


router = APIRouter()


@router.get("/fail/{which}", response_model=None)
async def fail(which: str) -> None:
    raise ERRORS[which]


@router.get("/state", response_model=None)
async def state(domain: Annotated[Domain, Depends(state_dependency(Domain))]) -> dict[str, str]:
    return {"state": type(domain).__name__}


@pytest.fixture
def client() -> TestClient:
    spec = ServiceSpec(name="probe", title="probe", description="", routers=(router,), uses_database=False,
                       uses_bus=False)
    app = create_service_app(ServiceSettings(), spec)
    app.state.runtime = ServiceRuntime(name="probe", settings=ServiceSettings(), stop=asyncio.Event())
    return TestClient(app)  # no lifespan: the runtime above stands in


@pytest.mark.parametrize("which", sorted(ERRORS))
def test_each_domain_error_is_its_status_with_the_reason_as_detail(client: TestClient, which: str) -> None:
    resp = client.get(f"/fail/{which}")
    assert resp.status_code == STATUS[which] == type(ERRORS[which]).status_code
    assert resp.json() == {"detail": ERRORS[which].reason}


def test_too_many_requests_says_when_to_retry(client: TestClient) -> None:
    assert client.get("/fail/busy").headers["retry-after"] == "60"


def test_domain_state_is_typed_and_503_until_it_is_there(client: TestClient) -> None:
    resp = client.get("/state")
    assert resp.status_code == 503 and resp.json() == {"detail": "the probe runtime is not running"}
    client.app.state.runtime.state = Domain()  # type: ignore[attr-defined]
    assert client.get("/state").json() == {"state": "Domain"}


def test_state_of_refuses_another_type() -> None:
    class Request:
        class app:  # stands in for request.app
            class state:
                runtime = ServiceRuntime(name="x", settings=ServiceSettings(), stop=asyncio.Event(), state=object())

    with pytest.raises(Unavailable, match="the x runtime is not running"):
        state_of(Request(), Domain)  # type: ignore[arg-type]
