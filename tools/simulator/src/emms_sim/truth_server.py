"""The truth HTTP API served inside a running fleet process (one process, or the parent of several)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from emms_sim.truth import GroundTruth

if TYPE_CHECKING:  # FastAPI and uvicorn cost ~20 MB: a child process without HTTP never imports them
    import uvicorn

    from emms_sim.http_api import RuntimeEventsFn, StatusFn


def truth_server(truth: GroundTruth, status: StatusFn, runtime_events: RuntimeEventsFn,
                 where: tuple[str, int] | None) -> uvicorn.Server | None:
    """A uvicorn server for ``create_app`` that leaves SIGTERM / SIGINT to the fleet (None: no HTTP)."""
    if where is None:
        return None
    import uvicorn

    from emms_sim.http_api import create_app

    app = create_app(truth, status, runtime_events)
    if truth.config.network is not None:
        from emms_sim.network_truth import network_router

        app.include_router(network_router(truth.model))

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the fleet owns SIGTERM / SIGINT
            yield

    return _Server(uvicorn.Config(app, host=where[0], port=where[1], log_level="warning", lifespan="off"))
