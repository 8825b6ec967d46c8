"""A small middleware recording HTTP request counts and latencies per route."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import Counter, Histogram

REQUESTS = Counter("emms_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("emms_http_request_seconds", "HTTP request latency", ["service", "method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def http_metrics_middleware(service: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]],
                                                      Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        if route not in ("/metrics", "/healthz", "/readyz"):
            REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
            LATENCY.labels(service, request.method, route).observe(time.perf_counter() - started)
        return response

    return middleware
