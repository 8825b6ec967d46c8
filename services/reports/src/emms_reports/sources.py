"""Rows of a data set, read from its source service over HTTP as they arrive.

A streamed CSV export is read line by line; paged answers (events, anomalies) page by page with
their cursor; nothing gathers the whole result. The first request's status is checked before any
row is handed on, so a refusal upstream (unknown region, period too long, no permission) becomes
this service's answer with the upstream reason.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from emms_reports.datasets import DataSet
from emms_reports.definition import ReportDefinition, Span
from emms_reports.settings import ReportsSettings
from emms_runtime import BadRequest, Forbidden, Invalid, NotFound, Unavailable, UpstreamTimeout

Row = dict[str, Any]


def _detail(resp: httpx.Response, body: bytes) -> str:
    try:
        detail = json.loads(body).get("detail")
        return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)[:500]
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:500]


def refusal(dataset: DataSet, resp: httpx.Response, body: bytes) -> Exception:
    """The upstream's refusal as this service's error, naming the source."""
    why = f"{dataset.service} refused the {dataset.name} data: {_detail(resp, body)}"
    status = resp.status_code
    if status == 404:
        return NotFound(why)
    if status in (401, 403):
        return Forbidden(why)
    if status == 422:
        return Invalid(why)
    if 400 <= status < 500:
        return BadRequest(why)
    if status == 504:
        return UpstreamTimeout(why)
    return Unavailable(why)


def params_of(dataset: DataSet, definition: ReportDefinition, span: Span) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = [("from", span.start.isoformat()), ("to", span.end.isoformat())]
    if definition.interval is not None:
        params.append(("interval", definition.interval))
    for name, values in definition.filters.items():
        params += [(name, v) for v in values]
    params += list(dataset.fixed_params.items())
    return params


class Source:
    """The rows of one report run: ``await open()`` checks the first answer, then iterate ``rows()``."""

    def __init__(self, settings: ReportsSettings, client: httpx.AsyncClient, dataset: DataSet,
                 definition: ReportDefinition, span: Span, token: str) -> None:
        self._settings = settings
        self._client = client
        self.dataset = dataset
        self._definition = definition
        self._span = span
        self._headers = {"Authorization": f"Bearer {token}"}
        self._first: httpx.Response | None = None
        self.count = 0

    @property
    def url(self) -> str:
        up = self._settings.upstream
        base = up.analytics_url if self.dataset.service == "analytics" else up.archive_url
        return base.rstrip("/") + self.dataset.path

    def _queries(self) -> list[tuple[str | None, list[tuple[str, str]]]]:
        base = params_of(self.dataset, self._definition, self._span)
        if self.dataset.reading == "paged":
            base.append(("limit", str(self._settings.upstream.page_size)))
        if not self.dataset.dimensions:
            return [(None, base)]
        dims = self._definition.dimensions or [self.dataset.default_dimension or self.dataset.dimensions[0]]
        return [(d, [*base, ("group_by", d)]) for d in dims]

    async def _send(self, params: list[tuple[str, str]]) -> httpx.Response:
        request = self._client.build_request("GET", self.url, params=tuple(params), headers=self._headers)
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{self.dataset.service} did not answer in time: {exc}") from None
        except httpx.TransportError as exc:
            raise Unavailable(f"{self.dataset.service} is not reachable at {self.url}: {exc}") from None
        if resp.status_code != 200:
            body = await resp.aread()
            await resp.aclose()
            raise refusal(self.dataset, resp, body)
        return resp

    async def open(self) -> None:
        """Send the first query and check its answer (a refusal raises here, before any output)."""
        queries = self._queries()
        self._first = await self._send(queries[0][1])

    async def close(self) -> None:
        if self._first is not None:
            await self._first.aclose()
            self._first = None

    async def rows(self) -> AsyncIterator[Row]:
        try:
            for i, (dimension, params) in enumerate(self._queries()):
                if i == 0 and self._first is not None:
                    resp, self._first = self._first, None
                else:
                    resp = await self._send(params)
                try:
                    async for row in self._read(resp, params):
                        if dimension is not None:
                            row["dimension"] = dimension
                        self.count += 1
                        yield row
                finally:
                    await resp.aclose()
        finally:
            await self.close()

    async def _read(self, resp: httpx.Response, params: list[tuple[str, str]]) -> AsyncIterator[Row]:
        if self.dataset.reading == "csv":
            async for row in _csv_rows(resp):
                yield row
        elif self.dataset.reading == "rows":
            body = await resp.aread()
            for row in httpx.Response(200, content=body).json().get("rows", []):
                yield dict(row)
        else:
            async for row in self._pages(resp, params):
                yield row

    async def _pages(self, resp: httpx.Response, params: list[tuple[str, str]]) -> AsyncIterator[Row]:
        page = httpx.Response(200, content=await resp.aread()).json()
        while True:
            for row in page.get("rows", []):
                yield dict(row)
            cursor = page.get("next_cursor")
            if not cursor:
                return
            nxt = await self._send([*params, ("cursor", cursor)])
            try:
                page = httpx.Response(200, content=await nxt.aread()).json()
            finally:
                await nxt.aclose()


async def _csv_rows(resp: httpx.Response) -> AsyncIterator[Row]:
    header: list[str] | None = None
    async for line in resp.aiter_lines():
        if not line:
            continue
        values = next(csv.reader([line]))
        if header is None:
            header = values
            continue
        yield dict(zip(header, values, strict=False))
