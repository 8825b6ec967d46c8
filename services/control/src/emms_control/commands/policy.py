"""The safety and retry policy of remote control, set once from the service's settings.

Module state so that the functions other parts of control call (``submit_command`` …) need no
settings argument; :func:`configure` is called by the runtime at start-up, tests may call it too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Policy:
    protected_classes: frozenset[str] = frozenset({"key", "medical", "critical"})
    confirm_above: int = 100
    """A job of more devices than this waits for a second confirmation (``POST …/confirm``)."""
    confirm_ttl_s: float = 600.0
    attempts: int = 3
    """Sends of one step (command or verify) to one device at most, first send included."""
    retry_delay_s: float = 2.0
    request_timeout_s: float = 10.0
    fep_retries: int = 1
    result_grace_s: float = 15.0
    """A sent request with no result after timeout × (FEP retries + 1) + this is resent (with the reason)."""
    terminal_in_flight: int = 8
    """Devices of one terminal with a request out at once (the FEP queues beyond its own in-flight limit)."""
    jobs_per_operator_per_min: int = 30
    devices_per_min: int = 60_000
    protect_default_half_hours: int = 0

    @property
    def result_deadline_s(self) -> float:
        return self.request_timeout_s * (self.fep_retries + 1) + self.result_grace_s


_current = Policy()


def configure(**changes: object) -> Policy:
    """Replace fields of the policy (names of :class:`Policy`); returns the new policy."""
    global _current
    _current = replace(_current, **changes)  # type: ignore[arg-type]
    return _current


def policy() -> Policy:
    return _current
