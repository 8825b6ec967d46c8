"""Jobs of business systems: submission with an Idempotency-Key, the first step at once, the rest by a worker.

Same caller, same key, same body → the same job (200, nothing done again); same key, another body → 409.
A job whose first step the owner refused (unknown meter, meter installed elsewhere, outside the
caller's scope …) is ``rejected`` with the owner's reason and the request answers that 4xx; the key
stays spent (a retry answers the rejected job). An owner that is down leaves a work order ``accepted``
(the worker tries again); a collection or control job, carried out with the caller's token, is
``failed`` with the reason (re-submit with a new key).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel

from emms_interface.jobs import steps
from emms_interface.jobs.model import FINISHED, JobState, as_time, body_hash
from emms_interface.repository import jobs as repo
from emms_interface.repository import webhooks as hooks
from emms_interface.runtime import InterfaceRuntime
from emms_interface.upstream import UpstreamDown, UpstreamRefused, as_domain_error
from emms_interface.webhooks.events import from_job
from emms_runtime import BadRequest, Conflict, Forbidden, NotFound, Principal
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.interface.jobs")
MAX_KEY = 200


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("the Idempotency-Key header is required: a unique id of this request (e.g. a UUID);"
                         " send the same key again to retry safely")
    if len(key) > MAX_KEY or not key.isprintable():
        raise BadRequest(f"Idempotency-Key: at most {MAX_KEY} printable characters")
    return key.strip()


async def _save(rt: InterfaceRuntime, job: dict[str, Any], *, state: str, reason: str = "",
                upstream: dict[str, Any] | None = None, result: dict[str, Any] | None = None,
                next_step_in_s: float = 0.0) -> dict[str, Any]:
    """Record the job's new state; a job that ended queues its webhook event in the same transaction."""
    finished = state in FINISHED
    async with rt.pool.acquire() as conn, conn.transaction():
        saved = await repo.update(conn, job["job_id"], from_state=job["state"], state=state, reason=reason,
                                  upstream=upstream, result=result, finished=finished, next_step_in_s=next_step_in_s)
        if saved is None:  # moved on meanwhile (the first reading arrived): keep what it is now
            current = await repo.get(conn, job["job_id"])
            assert current is not None
            return current
        if finished:
            await hooks.add_events(conn, [from_job(saved)])
    if finished:
        rt.dispatcher.poke()
    return saved


async def submit(rt: InterfaceRuntime, principal: Principal, key: str | None, kind: str, body: BaseModel,
                 bearer: str, *, await_approval: bool = False) -> tuple[dict[str, Any], bool]:
    """(job, created). Raises the owner's refusal as a domain error (the job is kept, ``rejected``).

    ``await_approval``: a control job asked for without a step-up is kept ``awaiting_approval`` until another
    caller with a step-up approves it (:func:`approve`) — the four-eyes path for business systems, whose
    client tokens never carry a password check."""
    key = check_key(key)
    fingerprint = body_hash(body)
    document = body.model_dump(mode="json")
    meter = document.get("meter_id")
    point = document.get("metering_point_id")
    companies: list[str] = []
    if kind in ("install", "replace", "remove"):
        try:
            _, company = await steps.point_company(rt.upstream, str(point))
        except (UpstreamRefused, UpstreamDown) as exc:
            raise as_domain_error(exc) from None
        if not principal.may_see_company(company):
            raise Forbidden(f"metering point {point} belongs to company {company}, outside your data scope")
        companies = [company] if company else []
    async with rt.pool.acquire() as conn:
        job, created = await repo.insert(conn, caller=principal.key, key=key, body_hash=fingerprint, kind=kind,
                                         body=document, companies=companies, state=JobState.ACCEPTED,
                                         meter_id=meter, point_id=point)
    if not created:
        if job["kind"] != kind or job["body_hash"] != fingerprint:
            raise Conflict(f"Idempotency-Key {key!r} was used for another request (job {job['job_id']},"
                           f" {job['kind']}); use a new key for a new request")
        return job, False
    if await_approval:
        return await _save(rt, job, state=JobState.AWAITING_APPROVAL,
                           reason="waiting for an operator's approval with a step-up (POST /api/v1/jobs/{id}/approve)",
                           next_step_in_s=rt.settings.jobs.approval_timeout_s), True
    return await _first_step(rt, job, bearer), True


def _awaiting(job: dict[str, Any] | None, job_id: str, approver: Principal) -> dict[str, Any]:
    if job is None or job["kind"] != "control" or not all(approver.may_see_company(c) for c in job["companies"]):
        raise NotFound(f"no control job {job_id} in your scope")
    if job["state"] != JobState.AWAITING_APPROVAL:
        raise Conflict(f"job {job_id} is {job['state']}, not awaiting approval")
    if job["caller"] == approver.key:
        raise Conflict(f"job {job_id} was asked for by {approver.key}: another person approves it (four eyes)")
    return job


async def approve(rt: InterfaceRuntime, approver: Principal, job_id: str, bearer: str) -> dict[str, Any]:
    """Send a waiting control job to control with the approver's (step-up) token; control logs the approver."""
    async with rt.pool.acquire() as conn:
        _awaiting(await repo.get(conn, job_id), job_id, approver)
        saved = await repo.update(conn, job_id, from_state=JobState.AWAITING_APPROVAL, state=JobState.ACCEPTED,
                                  upstream={"approved_by": approver.key}, next_step_in_s=60.0)
    if saved is None:
        raise Conflict(f"job {job_id} was approved, declined or timed out meanwhile")
    return await _first_step(rt, saved, bearer)


async def decline(rt: InterfaceRuntime, approver: Principal, job_id: str, reason: str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        job = _awaiting(await repo.get(conn, job_id), job_id, approver)
    return await _save(rt, job, state=JobState.REJECTED, reason=f"declined by {approver.key}: {reason}",
                       upstream={"declined_by": approver.key})


async def _first_step(rt: InterfaceRuntime, job: dict[str, Any], bearer: str | None) -> dict[str, Any]:
    try:
        if job["kind"] == "collection":
            assert bearer is not None
            outcome = await steps.start_collection(rt.upstream, job, bearer)
        elif job["kind"] == "control":
            assert bearer is not None
            outcome = await steps.start_control(rt.upstream, job, bearer)
        else:
            outcome = await steps.start_work_order(rt.upstream, job)
    except UpstreamRefused as exc:
        await _save(rt, job, state=JobState.REJECTED, reason=exc.reason)
        raise exc.domain_error() from None
    except UpstreamDown as exc:
        if job["kind"] in ("collection", "control"):
            await _save(rt, job, state=JobState.FAILED, reason=f"{exc}; submit again with a new key")
            raise as_domain_error(exc) from None
        return await _save(rt, job, state=JobState.ACCEPTED, reason=str(exc), next_step_in_s=rt.settings.jobs.poll_s)
    return await _save(rt, job, state=outcome["state"], upstream=outcome.get("upstream"),
                       next_step_in_s=rt.settings.jobs.poll_s)


async def advance(rt: InterfaceRuntime, job: dict[str, Any]) -> None:
    """One later step of an open job."""
    settings = rt.settings.jobs
    try:
        if job["state"] == JobState.AWAITING_APPROVAL:  # its next step is due only when the approval timed out
            await _save(rt, job, state=JobState.REJECTED,
                        reason=f"not approved within {settings.approval_timeout_s:.0f} s; submit again with a new key")
        elif job["state"] == JobState.ACCEPTED and job["kind"] in ("collection", "control"):
            # only a crash between recording and submitting leaves one here: the caller's token is gone
            await _save(rt, job, state=JobState.FAILED,
                        reason="interrupted before it reached its owner; submit again with a new key")
        elif job["state"] == JobState.ACCEPTED:
            await _first_step(rt, job, None)
        elif job["state"] == JobState.RUNNING:
            poll = steps.poll_collection if job["kind"] == "collection" else steps.poll_control
            outcome = await poll(rt.upstream, job)
            if outcome is None:
                await _save(rt, job, state=job["state"], next_step_in_s=settings.poll_s)
            else:
                await _save(rt, job, state=outcome["state"], reason=outcome.get("reason", ""),
                            result=outcome.get("result"))
        elif job["state"] == JobState.AWAITING_FIRST_READING:
            installed = as_time(job["upstream"].get("installed_at")) or job["created_at"]
            if datetime.now(UTC) - max(installed, job["created_at"]) > timedelta(seconds=settings.first_read_timeout_s):
                await _save(rt, job, state=JobState.FAILED,
                            reason=f"no validated reading of meter {job['meter_id']} within"
                                   f" {settings.first_read_timeout_s:.0f} s of the installation")
                return
            asked = await steps.ask_first_reading(rt.upstream, job, settings.first_read_every_s)
            await _save(rt, job, state=job["state"], upstream=asked,
                        next_step_in_s=min(settings.first_read_every_s, 30.0))
    except (UpstreamDown, UpstreamRefused) as exc:  # try again later; the job keeps its state
        log.warning("job step failed", job_id=job["job_id"], state=job["state"], error=str(exc))
        await _save(rt, job, state=job["state"], reason=str(exc)[:300], next_step_in_s=settings.poll_s * 5)


class JobWorker:
    """Advances open jobs whose next step is due (leased, so replicas share the work)."""

    def __init__(self, rt: InterfaceRuntime) -> None:
        self._rt = rt
        self.worker = PeriodicWorker("jobs", self.step, rt.settings.jobs.poll_s)

    async def step(self) -> int:
        async with self._rt.pool.acquire() as conn:
            due = await repo.claim_due(conn, 50, 60.0)
        for job in due:
            await advance(self._rt, job)
        return len(due)
