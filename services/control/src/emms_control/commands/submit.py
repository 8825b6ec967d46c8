"""Creating command jobs: checks (unknown device, capability, protection, limits), then the job, its
device rows and their log rows — in the caller's transaction. The runtime's command engine sends them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from emms_control.commands.actions import AUTOMATIC, CUTTING, TERMINAL_WIDE, Action, Origin, check_capable
from emms_control.commands.log import detail_json
from emms_control.commands.policy import policy
from emms_control.repository import command_log as log_sql
from emms_control.repository import devices as device_sql
from emms_control.repository import jobs as job_sql
from emms_control.repository.devices import Device
from emms_db.connection import Connection
from emms_runtime.errors import Conflict, Invalid, NotFound, TooManyRequests

MAX_DEVICES = 100_000


class ProtectedCustomer(Conflict):
    """A cut of a protected customer's supply without the override it needs (409)."""


def _parse_action(action: str | Action) -> Action:
    try:
        return Action(action)
    except ValueError:
        raise Invalid(f"unknown action {action!r}; one of {[a.value for a in Action]}") from None


def _parse_origin(origin: str | Origin) -> Origin:
    try:
        return Origin(origin)
    except ValueError:
        raise Invalid(f"unknown origin {origin!r}; one of {[o.value for o in Origin]}") from None


def check_protection(devices: Sequence[Device], action: Action, origin: Origin, override: bool,
                     override_reason: str | None) -> None:
    if action not in CUTTING:
        return
    classes = policy().protected_classes
    hit = [d for d in devices if d.protection is not None and d.protection in classes]
    if not hit:
        return
    names = ", ".join(f"{d.meter_id} ({d.protection})" for d in hit[:10]) + (" …" if len(hit) > 10 else "")
    if origin in AUTOMATIC:
        raise ProtectedCustomer(f"refused: {origin.value} never cuts a protected customer: {names}")
    if not override:
        raise ProtectedCustomer(f"protected customers need override_protection with a reason: {names}")
    if not (override_reason or "").strip():
        raise Invalid("override_protection needs override_reason")


async def check_rate(conn: Connection, requested_by: str, devices: int) -> None:
    p = policy()
    since = datetime.now(UTC) - timedelta(minutes=1)
    jobs, _ = await job_sql.jobs_since(conn, since, requested_by)
    if jobs >= p.jobs_per_operator_per_min:
        raise TooManyRequests(f"{requested_by} submitted {jobs} commands in the last minute (limit"
                              f" {p.jobs_per_operator_per_min} per operator)", retry_after_s=60)
    _, total = await job_sql.jobs_since(conn, since, None)
    if total + devices > p.devices_per_min:
        raise TooManyRequests(f"{total} devices commanded in the last minute; {devices} more exceed the limit of"
                              f" {p.devices_per_min} in total", retry_after_s=60)


async def resolve(conn: Connection, meter_ids: Sequence[str]) -> list[Device]:
    """The devices, in the order given (duplicates once); 404 naming the first unknown ids."""
    unique = list(dict.fromkeys(meter_ids))
    if not unique:
        raise Invalid("no devices: the target selects no meter")
    if len(unique) > MAX_DEVICES:
        raise Invalid(f"{len(unique)} devices is more than {MAX_DEVICES} in one command")
    found = await device_sql.by_ids(conn, unique)
    missing = [m for m in unique if m not in found]
    if missing:
        raise NotFound(f"unknown device(s): {', '.join(missing[:20])}" + (" …" if len(missing) > 20 else ""))
    devices = [found[m] for m in unique]
    inactive = [d.meter_id for d in devices if not d.active]
    if inactive:
        raise Invalid(f"device(s) removed from service: {', '.join(inactive[:20])}")
    return devices


async def submit_command(conn: Connection, *, meter_ids: Sequence[str], action: str | Action,
                         origin: str | Origin, reason: str, requested_by: str, override_protection: bool = False,
                         override_reason: str | None = None, params: Mapping[str, Any] | None = None,
                         not_before: datetime | None = None, target: Mapping[str, Any] | None = None,
                         check_rates: bool = True) -> str:
    """See :mod:`emms_control.commands`. Returns the job id."""
    act, org = _parse_action(action), _parse_origin(origin)
    if act is Action.OPERATION:
        raise Invalid("an operation is submitted with submit_device_operation")
    if not reason.strip():
        raise Invalid("a command needs a reason")
    devices = await resolve(conn, meter_ids)
    for d in devices:
        check_capable(act, d.meter_id, d.utility)
        if not d.terminal:
            raise Invalid(f"meter {d.meter_id} has no terminal in master data: it cannot be reached")
        if act not in TERMINAL_WIDE and act in (Action.TRIP, Action.ALLOW_CLOSE) and not d.pn \
                and not d.protocol.startswith("dlt645"):
            raise Invalid(f"meter {d.meter_id} has neither a measurement point nor a DL/T 645 address")
    check_protection(devices, act, org, override_protection, override_reason)
    job_params = dict(params or {})
    if act is Action.PROTECT_ON:
        half_hours = job_params.get("duration_half_hours", policy().protect_default_half_hours)
        if not isinstance(half_hours, int) or not 0 <= half_hours <= 255:
            raise Invalid("protect_on: duration_half_hours must be 0..255 (0 = until protect_off)")
        job_params["duration_half_hours"] = half_hours
    rows: list[tuple[str, str]]
    if act in TERMINAL_WIDE:
        rows = [("", t) for t in dict.fromkeys(d.terminal or "" for d in devices)]
    else:
        rows = [(d.meter_id, d.terminal or "") for d in devices]
    if check_rates:
        await check_rate(conn, requested_by, len(rows))
    return await _create(conn, act, org, reason, requested_by, job_params,
                         dict(target or {"meter_ids": list(dict.fromkeys(meter_ids))}),
                         override_protection, override_reason, not_before, rows)


async def submit_device_operation(conn: Connection, *, afn: int, units: Sequence[Mapping[str, Any]],
                                  origin: str | Origin, reason: str, requested_by: str,
                                  meter_id: str | None = None, terminal: str | None = None,
                                  verify: Mapping[str, Any] | None = None, what: str = "operation",
                                  not_before: datetime | None = None) -> str:
    """See :mod:`emms_control.commands`. Returns the job id."""
    org = _parse_origin(origin)
    if not reason.strip():
        raise Invalid("an operation needs a reason")
    if not 0 <= afn <= 0xFF:
        raise Invalid(f"AFN {afn} is not a byte")
    if not units:
        raise Invalid("an operation needs data units")
    if meter_id is not None:
        device = (await resolve(conn, [meter_id]))[0]
        if not device.terminal:
            raise Invalid(f"meter {meter_id} has no terminal in master data")
        terminal = device.terminal
    if not terminal:
        raise Invalid("an operation names a meter or a terminal")
    params = {"afn": afn, "units": [dict(u) for u in units], "what": what,
              "verify": None if verify is None else dict(verify)}
    return await _create(conn, Action.OPERATION, org, reason, requested_by, params,
                         {"meter_id": meter_id, "terminal": terminal}, False, None, not_before,
                         [(meter_id or "", terminal)])


async def _create(conn: Connection, action: Action, origin: Origin, reason: str, requested_by: str,
                  params: dict[str, Any], target: dict[str, Any], override: bool, override_reason: str | None,
                  not_before: datetime | None, rows: list[tuple[str, str]]) -> str:
    p = policy()
    now = datetime.now(UTC)
    job_id = str(uuid.uuid4())
    if len(rows) > p.confirm_above and origin is Origin.MANUAL:
        state, confirm_by = "awaiting_confirmation", now + timedelta(seconds=p.confirm_ttl_s)
    elif not_before is not None and not_before > now:
        state, confirm_by = "scheduled", None
    else:
        state, confirm_by = "running", None
    await job_sql.insert_job(conn, job_id=job_id, action=action.value, origin=origin.value, reason=reason,
                             requested_by=requested_by, params=params, target=target,
                             override_protection=override, override_reason=override_reason, state=state,
                             not_before=not_before, confirm_by=confirm_by, total=len(rows))
    await job_sql.insert_devices(conn, job_id, rows)
    kind = "parameter" if action is Action.OPERATION and params.get("afn") == 0x04 else "command"
    detail = detail_json({"reason": reason, "params": params, "job_state": state,
                          "override_protection": override, "override_reason": override_reason})
    await log_sql.insert_many(conn, [(kind, "submitted", job_id, m or None, t, requested_by, origin.value,
                                      action.value if action is not Action.OPERATION else str(params["what"]),
                                      None, None, None, detail) for m, t in rows])
    return job_id
