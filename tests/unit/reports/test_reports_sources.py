"""What the reports service asks its sources and how it reads their answers (the sources faked with
httpx.MockTransport: these tests are about the requests and the refusals; the real sources are in
tests/integration/reports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from emms_reports.datasets import CATALOG
from emms_reports.definition import ReportDefinition, Span
from emms_reports.settings import ReportsSettings
from emms_reports.sources import Source
from emms_runtime import BadRequest, Forbidden, Invalid, NotFound, Unavailable, UpstreamTimeout

SPAN = Span(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
SETTINGS = ReportsSettings(_env_file=None, upstream={"analytics_url": "http://a", "archive_url": "http://r",
                                                     "page_size": 2})


def definition(dataset: str, **more: object) -> ReportDefinition:
    return ReportDefinition.model_validate({"title": "t", "dataset": dataset, "columns": [{"field": "key"}], **more})


async def rows_of(source: Source) -> list[dict[str, object]]:
    await source.open()
    return [r async for r in source.rows()]


async def test_one_query_per_dimension_with_the_filters_and_the_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        g = request.url.params["group_by"]
        return httpx.Response(200, text=f"bucket,key,usage\n2026-02-01 00:00:00+08,{g}-1,1.5\n")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        d = definition("usage", dimensions=["region", "category"], interval="month",
                       filters={"regions": ["R1", "R2"]})
        got = await rows_of(Source(SETTINGS, client, CATALOG["usage"], d, SPAN, "tok"))
    assert [r["key"] for r in got] == ["region-1", "category-1"]
    assert [r["dimension"] for r in got] == ["region", "category"]
    assert seen[0].url.path == "/api/v1/analytics/exports/usage.csv" and seen[0].url.host == "a"
    assert seen[0].url.params.get_list("regions") == ["R1", "R2"] and seen[0].url.params["interval"] == "month"
    assert seen[0].url.params["from"] == "2026-02-01T00:00:00+00:00"
    assert seen[0].headers["authorization"] == "Bearer tok"


@pytest.mark.parametrize(("dataset", "group_by"), [("usage", "total"), ("loss", "model")])
async def test_without_a_dimension_the_data_sets_default_is_asked(dataset: str, group_by: str) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["group_by"])
        return (httpx.Response(200, text="bucket,key\n") if dataset == "usage"
                else httpx.Response(200, json={"rows": [{"key": "m1", "loss": 2.0}]}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await rows_of(Source(SETTINGS, client, CATALOG[dataset], definition(dataset), SPAN, "tok"))
    assert seen == [group_by]


async def test_pages_are_followed_by_their_cursor() -> None:
    pages = {None: {"rows": [{"code": "A"}, {"code": "B"}], "count": 2, "next_cursor": "c1"},
             "c1": {"rows": [{"code": "C"}], "count": 1, "next_cursor": None}}
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        got = await rows_of(Source(SETTINGS, client, CATALOG["events"], definition("events"), SPAN, "tok"))
    assert [r["code"] for r in got] == ["A", "B", "C"]
    assert [r.url.params["limit"] for r in seen] == ["2", "2"] and seen[0].url.path == "/api/v1/events"


@pytest.mark.parametrize(("status", "error"), [(404, NotFound), (422, Invalid), (403, Forbidden), (401, Forbidden),
                                               (400, BadRequest), (500, Unavailable), (504, UpstreamTimeout)])
async def test_a_refusal_upstream_is_this_services_error_with_the_reason(status: int, error: type) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps({"detail": "unknown regions: NOWHERE"}))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        source = Source(SETTINGS, client, CATALOG["usage"], definition("usage"), SPAN, "tok")
        with pytest.raises(error, match="analytics refused the usage data: unknown regions: NOWHERE"):
            await source.open()


async def test_an_unreachable_or_slow_source() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler, error in ((down, Unavailable), (slow, UpstreamTimeout)):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(error, match="archive"):
                await Source(SETTINGS, client, CATALOG["anomalies"], definition("anomalies"), SPAN, "t").open()
