"""Remote control commands (issue 15, items 5 and 7): the interface the rest of control calls.

Every function runs in the caller's connection and transaction: it only writes rows (a job, one row
per device, the log rows). The command engine of the running service (:mod:`.engine`) sends what
they created through ``emms.downlink.request.v1``, follows ``emms.downlink.result.v1``, retries
with a recorded reason, verifies by reading the switch / valve state back, and publishes one
``emms.control.command.v1`` message per device final result. A job's and its devices' states are
read with :func:`job_status`.

``submit_command(conn, *, meter_ids, action, origin, reason, requested_by, override_protection=False,
override_reason=None, params=None, not_before=None, target=None, check_rates=True) -> job_id``
    ``action``: ``trip`` / ``allow_close`` / ``direct_close`` (relay, electricity), ``valve_close`` /
    ``valve_open`` (water / gas / heat), ``protect_on`` (``params={"duration_half_hours": n}``, 0 =
    until ``protect_off``) / ``protect_off`` (the meters' terminals, once each). ``origin``:
    ``manual`` / ``prepayment`` / ``quantity`` / ``schedule``. Automatic origins (all but manual)
    never cut (trip, valve close) a protected customer: :class:`ProtectedCustomer` (409) with the
    reason, nothing created; a manual cut of one needs ``override_protection=True`` and
    ``override_reason``. Unknown meter: ``NotFound`` (404) with the ids; an action the meter cannot do:
    ``Invalid`` (422); a manual job of more than ``Policy.confirm_above`` devices waits for
    :func:`confirm_job`. Final device states: ``verified`` (the state read back is the one wanted),
    ``confirmed`` (the device confirmed, no read-back exists: protect on / off, an operation without
    ``verify``), ``failed`` (reason), ``cancelled``.

``submit_device_operation(conn, *, afn, units, origin, reason, requested_by, meter_id=None, terminal=None,
verify=None, what="operation", not_before=None) -> job_id``
    Any data-unit set to one device as a logged, retried, confirmed command: ``units`` are
    ``DataUnitRequest`` dicts (``{"pn": [..], "fn": [..], "data": {...}}``, see ``docs/fep.md``) — AFN 04
    parameters (logged as kind ``parameter``), AFN 05 Fn, AFN 10 F1 forwarding of a 645 / 188 frame
    (``{"value": {"type": "ForwardRequest", ...}}``). ``verify``: ``{"afn": .., "units": [..]}`` read
    after the device confirmed; its answer frames are kept on the device's final log row (outcome
    ``verified``); without it the final state is ``confirmed``. ``what`` names the operation in the log.

``record_parameter_change(conn, *, who, what, origin, meter_id=None, terminal=None, before=None,
after=None, reason="", request_ids=(), outcome=None, verified_state=None, job_id=None) -> log_id``
    One log row for a parameter change made otherwise (e.g. an account's thresholds in the database).

``confirm_job(conn, job_id, by)``, ``cancel_job(conn, job_id, by)``, ``job_status(conn, job_id)``.
"""

from emms_control.commands.actions import Action, Origin
from emms_control.commands.jobs import cancel_job, confirm_job, job_status
from emms_control.commands.log import record_parameter_change
from emms_control.commands.policy import Policy, configure, policy
from emms_control.commands.submit import ProtectedCustomer, submit_command, submit_device_operation

__all__ = ["Action", "Origin", "Policy", "ProtectedCustomer", "cancel_job", "configure", "confirm_job",
           "job_status", "policy", "record_parameter_change", "submit_command", "submit_device_operation"]
