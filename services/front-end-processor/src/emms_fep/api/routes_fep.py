"""``/api/v1/fep``: FEP-wide figures — this replica's links, ports, queues and loop lag; the fleet's replicas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_fep.api.deps import FepDep, FleetViewer
from emms_fep.api.responses import ERRORS, FepStats, PortFigures, Replica
from emms_fep.repository.replicas import all_replicas
from emms_fep.repository.sessions import count_by_state
from emms_fep.repository.traffic import traffic_totals
from emms_fep.runtime import SCHEMA
from emms_fep.stats import Counters

router = APIRouter(prefix="/api/v1/fep", tags=["fep"], responses=ERRORS)


@router.get("/stats", response_model=FepStats,
            summary="This replica's figures and the fleet's session and traffic totals")
async def fep_stats(
    fep: FepDep, principal: FleetViewer,
    lag_window_s: Annotated[float, Query(gt=0, le=300, description="event-loop lag over the last … seconds")] = 60.0,
) -> dict[str, Any]:
    total = Counters()
    for port in fep.gateway.ports.values():
        for name, value in zip(("frames_in", "frames_out", "bytes_in", "bytes_out", "illegal_frames"),
                               port.counters.values(), strict=False):
            setattr(total, name, getattr(total, name) + value)
    outcomes = fep.dispatcher.outcomes
    total.requests = sum(n for outcome, n in outcomes.items() if outcome != "rejected")
    total.answered = outcomes.get("answered", 0)
    return {
        "replica": fep.replica,
        "started_at": fep.started_at,
        "listen_port": fep.listen_port,
        "links": len(fep.gateway),
        "sessions": len(fep.sessions),
        "totals": total.as_dict(),
        "dropped_bytes": sum(p.dropped_bytes for p in fep.gateway.ports.values()),
        "publish_queue": {"waiting": len(fep.publish), "published": fep.publish.published,
                          "paused_links": fep.publish.paused, "pauses": fep.publish.pauses,
                          "failed_batches": fep.publish.failed_batches},
        "requests": {"in_flight": fep.dispatcher.in_flight(), "queued": fep.dispatcher.queued(),
                     "parked": fep.router.parked, "outcomes": dict(outcomes)},
        "event_loop_lag": fep.lag.summary(lag_window_s),
        "gc": fep.gc_pauses.summary(lag_window_s),
        "fleet": {"sessions": await count_by_state(fep.pool, SCHEMA), "live_replicas": fep.router.live,
                  "traffic_today": await traffic_totals(fep.pool, SCHEMA, datetime.now(UTC).date())},
    }


@router.get("/ports", response_model=list[PortFigures],
            summary="Per-port figures of this replica: links, frames, bytes, illegal frames")
async def fep_ports(fep: FepDep, principal: FleetViewer) -> list[dict[str, Any]]:
    return [p.as_dict() for p in sorted(fep.gateway.ports.values(), key=lambda p: p.port)]


@router.get("/replicas", response_model=list[Replica], summary="FEP replicas known to the fleet, with liveness")
async def fep_replicas(fep: FepDep, principal: FleetViewer) -> list[dict[str, Any]]:
    return await all_replicas(fep.pool, SCHEMA, fep.settings.replica.dead_after_s)
