"""``emms_runtime.request_hygiene``: NULs and lone surrogates are refused with a 422 before a route
sees them (the fuzzer's finds: PostgreSQL cannot store them, and each used to be a 500); every
other request reaches the route unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from emms_runtime.request_hygiene import RequestHygiene, json_text_fault


@pytest.mark.parametrize(("text", "fault"), [
    (rb'{"name": "plain"}', None),
    (rb'{"name": "caf\u00e9 \ud83d\ude00"}', None),  # an escaped letter and a surrogate pair
    (rb'{"name": "a\\u0000b"}', None),  # an escaped backslash, then the letters u0000
    (rb'{"name": "a\\\\\u0041"}', None),
    (rb'{"name": "a\u0000b"}', "NUL"),
    (rb'{"name": "a\\\u0000b"}', "NUL"),  # an escaped backslash, then an escaped NUL
    (b'{"name": "a\x00b"}', "NUL"),
    (rb'{"name": "\ud83d"}', "surrogate"),
    (rb'{"name": "\ud83dx"}', "surrogate"),
    (rb'{"name": "\ude00"}', "surrogate"),
    (rb'{"name": "\ud83d\ud83d\ude00"}', "surrogate"),
    (rb'{"name": "\ud83d\\\\"}', "surrogate"),
])
def test_json_text_fault(text: bytes, fault: str | None) -> None:
    found = json_text_fault(text)
    assert (found is None) if fault is None else (found is not None and fault in found), found


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.add_middleware(RequestHygiene)

    @app.post("/echo/{key}")
    async def echo(key: str, request: Request) -> dict[str, Any]:
        return {"key": key, "query": dict(request.query_params), "body": (await request.body()).decode()}

    return TestClient(app)


def test_clean_requests_reach_the_route_unchanged(client: TestClient) -> None:
    body = '{"name": "caf\\u00e9", "n": 1}'
    resp = client.post("/echo/k1?q=a%20b", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200
    assert resp.json() == {"key": "k1", "query": {"q": "a b"}, "body": body}
    form = client.post("/echo/k2", data={"username": "ü", "password": "x"})
    assert form.json()["body"] == "username=%C3%BC&password=x"
    csv = client.post("/echo/k3", content=b"id\x00name\n", headers={"content-type": "text/csv"})
    assert csv.status_code == 200, "bodies of other types are the route's to judge"


@pytest.mark.parametrize(("path", "body", "content_type", "where"), [
    ("/echo/a%00b", b"", "application/json", "path"),
    ("/echo/k?after=x%00", b"", "application/json", "query"),
    ("/echo/k", rb'{"name": "a\u0000"}', "application/json", "body"),
    ("/echo/k", rb'{"name": "\udc00"}', "application/merge-patch+json; charset=utf-8", "body"),
    ("/echo/k", b"username=a%00&password=x", "application/x-www-form-urlencoded", "body"),
])
def test_nul_and_lone_surrogates_are_422_naming_where(client: TestClient, path: str, body: bytes,
                                                      content_type: str, where: str) -> None:
    resp = client.post(path, content=body, headers={"content-type": content_type})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "request validation failed"
    (error,) = resp.json()["errors"]
    assert error["loc"] == [where] and error["type"] == "value_error" and "not accepted" in error["msg"]
