"""Carrying a job out through its owner's API: the first step (at submission) and the later ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emms_interface.jobs.model import JobState, as_time
from emms_interface.upstream import Upstream, UpstreamRefused, seg

_COLLECTOR_FINAL = {"done": JobState.COMPLETED, "failed": JobState.FAILED, "missed": JobState.FAILED,
                    "cancelled": JobState.FAILED}


async def start_collection(up: Upstream, job: dict[str, Any], bearer: str) -> dict[str, Any]:
    """Create the task in the collector (with the caller's token: the collector checks its scope) and run it."""
    body = job["body"]
    task_id = f"ext-{job['job_id'].replace('-', '')[:16]}"
    try:
        await up.call("collector", "POST", "/api/v1/tasks", json={**body["task"], "id": task_id}, bearer=bearer)
    except UpstreamRefused as exc:
        if exc.status != 409 or "exist" not in exc.reason:  # the task from an earlier try of this job
            raise
    if not body.get("run_now", True):
        return {"state": JobState.COMPLETED, "upstream": {"task_id": task_id}}
    run = await up.call("collector", "POST", f"/api/v1/tasks/{seg(task_id)}/runs", json={}, bearer=bearer)
    return {"state": JobState.RUNNING, "upstream": {"task_id": task_id, "run_id": run["run_id"]}}


async def start_control(up: Upstream, job: dict[str, Any], bearer: str) -> dict[str, Any]:
    """Submit the command to control with the caller's own (step-up) token: control checks and logs the caller."""
    answer = await up.call("control", "POST", "/api/v1/commands", json=job["body"]["command"], bearer=bearer)
    return {"state": JobState.RUNNING, "upstream": {"control_job_id": answer["job_id"]}}


async def point_company(up: Upstream, point_id: str) -> tuple[dict[str, Any], str | None]:
    """The metering point and its customer's company (the archive; 404 names the point)."""
    point = await up.call("archive", "GET", f"/api/v1/metering-points/{seg(point_id)}")
    company = None
    if point.get("customer_id"):
        customer = await up.call("archive", "GET", f"/api/v1/customers/{seg(point['customer_id'])}")
        company = customer.get("company_id")
    return point, company


async def check_meter(up: Upstream, meter_id: str) -> None:
    """422 for a meter master data does not know."""
    try:
        await up.call("archive", "GET", f"/api/v1/meters/{seg(meter_id)}")
    except UpstreamRefused as exc:
        if exc.status == 404:
            raise UpstreamRefused("archive", 422, f"unknown meter {meter_id}: create it in master data first"
                                  " (POST /api/v1/meters of the archive)") from None
        raise


async def _current_meter(up: Upstream, point_id: str) -> dict[str, Any] | None:
    history = await up.call("archive", "GET", f"/api/v1/metering-points/{seg(point_id)}/meters")
    open_ = [p for p in history if p.get("valid_to") is None]
    return open_[0] if open_ else None


async def start_work_order(up: Upstream, job: dict[str, Any]) -> dict[str, Any]:
    """Install, replace or remove the meter in the archive's master data (the service's own token).

    Re-running after a crash finds the change already made (the meter on the point since ``at``) and
    takes it as done."""
    body, kind, point = job["body"], job["kind"], job["metering_point_id"]
    at = body["at"]
    if kind == "remove":
        change = await up.call("archive", "POST", f"/api/v1/metering-points/{seg(point)}/remove-meter",
                               json={"at": at, "reason": body.get("reason")})
        return {"state": JobState.COMPLETED, "upstream": {"change_id": change["change_id"], "removed_at": at}}
    meter = job["meter_id"]
    await check_meter(up, meter)
    path, payload = (("install-meter", {"meter_id": meter, "at": at, "reason": body.get("reason")})
                     if kind == "install" else
                     ("replace-meter", {"new_meter_id": meter, "at": at, "reason": body.get("reason")}))
    try:
        change = await up.call("archive", "POST", f"/api/v1/metering-points/{seg(point)}/{path}", json=payload)
        change_id = change["change_id"]
    except UpstreamRefused as exc:
        current = await _current_meter(up, point) if exc.status == 409 else None
        if current is None or current["meter_id"] != meter or as_time(current["valid_from"]) != as_time(at):
            raise
        change_id = None  # made by an earlier try of this job
    return {"state": JobState.AWAITING_FIRST_READING,
            "upstream": {"change_id": change_id, "installed_at": at, "first_reads_requested": 0}}


async def poll_collection(up: Upstream, job: dict[str, Any]) -> dict[str, Any] | None:
    run = await up.call("collector", "GET", f"/api/v1/runs/{seg(job['upstream']['run_id'])}")
    final = _COLLECTOR_FINAL.get(run["status"])
    if final is None:
        return None
    counts = {k: run.get(k) for k in ("expected", "ok_first", "ok_retry", "ok_final", "meters")}
    return {"state": final, "reason": "" if final == JobState.COMPLETED else f"run {run['status']}: {run['detail']}",
            "result": {"run": counts}}


async def poll_control(up: Upstream, job: dict[str, Any]) -> dict[str, Any] | None:
    status = await up.call("control", "GET", f"/api/v1/jobs/{seg(job['upstream']['control_job_id'])}")
    if not status.get("finished_at"):
        return None
    counts = status.get("counts") or {}
    failed = sum(counts.get(s, 0) for s in ("failed", "cancelled"))
    state = JobState.FAILED if failed and failed == status.get("total") else JobState.COMPLETED
    return {"state": state, "reason": "" if state == JobState.COMPLETED else f"control job {status.get('state')}",
            "result": {"control": {"state": status.get("state"), "counts": counts}}}


async def ask_first_reading(up: Upstream, job: dict[str, Any], every_s: float) -> dict[str, Any]:
    """Ask the collector for a manual read of the new meter (it reads once it has learnt the installation)."""
    upstream = job["upstream"]
    last = as_time(upstream.get("first_read_requested_at"))
    now = datetime.now(UTC)
    if last is not None and now - last < timedelta(seconds=every_s):
        return {}
    try:
        await up.call("collector", "POST", "/api/v1/reads",
                      json={"meters": [job["meter_id"]], "type": "realtime", "wait_s": 0,
                            "reason": f"work order {job['job_id']}: first reading"})
    except UpstreamRefused as exc:  # the collector has not learnt the meter yet: ask again later
        return {"first_read_requested_at": now.isoformat(), "first_read_refusal": exc.reason[:200]}
    return {"first_read_requested_at": now.isoformat(),
            "first_reads_requested": int(upstream.get("first_reads_requested", 0)) + 1}
