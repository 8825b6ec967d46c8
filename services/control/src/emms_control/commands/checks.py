"""What an operation's read-back must show to count as verified.

An operation (``submit_device_operation``) may carry ``verify = {"afn", "units", "expect": {"check": name,
"value": v, ...}}``: the engine then passes the read-back's result to the check registered under ``name``
and finishes the device ``verified`` only if the check holds, else ``failed`` with what was read
(outcome ``state_mismatch``). Without ``expect`` an answered read-back verifies, as before. Checks are
registered by the modules that know the devices' data (prepayment registers ``purchase_count``), so the
engine imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emms_messages.terminal import DownlinkResult

Check = Callable[[Mapping[str, Any], DownlinkResult], tuple[bool, str]]
"""(expectation, result) → (holds, what was read, for the reason)."""

_CHECKS: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    _CHECKS[name] = check


def evaluate(expect: Mapping[str, Any], result: DownlinkResult) -> tuple[bool, str]:
    check = _CHECKS.get(str(expect.get("check")))
    if check is None:
        return False, f"no check named {expect.get('check')!r} is registered"
    return check(expect, result)
