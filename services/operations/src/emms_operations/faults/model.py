"""What a detected condition is: its kind, where it is (master / channel / terminal / meter), how bad."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL_OFFLINE = "terminal_offline"
METER_SILENT = "meter_silent"
SERVICE_UNHEALTHY = "service_unhealthy"
PORT_ILLEGAL_FRAMES = "port_illegal_frames"
METER_ALARM = "meter_alarm"
CHANNEL_DOWN = "channel_down"

LEVELS = ("master", "channel", "terminal", "meter")
KINDS = (TERMINAL_OFFLINE, METER_SILENT, SERVICE_UNHEALTHY, PORT_ILLEGAL_FRAMES, METER_ALARM, CHANNEL_DOWN)


@dataclass(frozen=True, slots=True)
class Condition:
    """A fault the rules see now; ``subject`` identifies it within its kind (one active fault per pair)."""

    kind: str
    level: str
    subject: str
    severity: str
    summary: str
    terminal: str | None = None
    meter_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def illegal_rate_fault(port: str, frames: float, illegal: float, ratio: float, minimum: int) -> Condition | None:
    """A FEP port whose illegal frames over one poll window exceed ``ratio`` of all its frames (and ``minimum``)."""
    total = frames + illegal
    if illegal < minimum or total <= 0 or illegal / total <= ratio:
        return None
    return Condition(PORT_ILLEGAL_FRAMES, "channel", f"fep-port:{port}", "major",
                     f"FEP port {port}: {illegal:.0f} of {total:.0f} frames illegal ({illegal / total:.0%})",
                     detail={"port": port, "frames": frames, "illegal": illegal, "ratio": round(illegal / total, 4)})


def channel_down_fault(port: str, links: float, busy: bool, active: bool) -> Condition | None:
    """A FEP port (a channel: a listener, a dial-out or serial line) with no link left after it carried terminals
    (``busy``: at least the configured number of links at a scrape since this service started) — or whose fault
    is active already (it stays until links come back, across a restart of this service)."""
    if links > 0 or not (busy or active):
        return None
    return Condition(CHANNEL_DOWN, "channel", f"fep-port:{port}", "critical",
                     f"FEP port {port}: no terminal link left", detail={"port": port, "links": links})


def alarm_severity(code: str, critical_codes: list[str]) -> str:
    return "critical" if code in critical_codes else "major"


PROCEDURES: dict[str, tuple[str, ...]] = {
    TERMINAL_OFFLINE: (
        "Check the FEP's view: GET /fep/api/v1/terminals/{terminal} (last seen, peer, reason of the last close).",
        "Several terminals of one region or vendor offline at once: check the carrier network / APN and the FEP"
        " (GET /operations/api/v1/faults/statistics?by=vendor).",
        "One terminal: check the site's power and the SIM (signal, data allowance) with the field team.",
        "On site: power-cycle the terminal, check antenna and modem; replace the modem or the terminal if it"
        " still does not log in; record the work as maintenance.",
        "The ticket resolves itself when the terminal logs in again; close it with the cause.",
    ),
    METER_SILENT: (
        "Read the meter now (collector: POST /collector/api/v1/reads) to tell a meter fault from a collection gap.",
        "Check the terminal's measurement-point table (AFN0A F10) holds the meter with the right address and port.",
        "Check the local channel (RS-485 wiring, carrier / wireless route) and the meter's display on site.",
        "Replace the meter if it is dead (a replacement in master data); record the work as maintenance.",
    ),
    SERVICE_UNHEALTHY: (
        "Read the service's /readyz body (the failing check: database, broker, workers, consumers).",
        "Database or broker unreachable: see the database / bus alerts; a dead worker: the pod restarts.",
        "Check the pod's logs and recent deploys; roll back a bad release.",
    ),
    PORT_ILLEGAL_FRAMES: (
        "Find the reasons on the FEP dashboard (emms_fep_illegal_frames_total by reason).",
        "Checksum / length errors from many terminals: the line (modem pool, a proxy in the path).",
        "One reason from a few terminals: their firmware or configuration (GET /fep/api/v1/terminals/{terminal}).",
    ),
    CHANNEL_DOWN: (
        "Check the FEP replicas are up and the port listens (GET /fep/api/v1/fep/ports).",
        "A listener: check the load balancer / terminals Service and the field networks' firewall; a dial-out or"
        " serial channel: the modem, the line and the far end.",
        "Many terminals of the channel offline at once: their tickets follow from this one; fix the channel first.",
    ),
    METER_ALARM: (
        "Read the terminal's events for the meter (archive: GET /archive/api/v1/events) around the alarm time.",
        "Cover opened or magnetic interference: send the field team to inspect for tampering; photograph seals.",
        "Power off (ERC14) or voltage circuit (ERC10): check the supply and the wiring.",
        "Record the inspection as maintenance; resolve and close the ticket with the finding.",
    ),
}
"""The standard handling of each kind of fault, suggested with its tickets (R-4.6.8)."""


def procedure(kind: str | None) -> list[str]:
    return list(PROCEDURES.get(kind or "", ("Locate the fault, do the work, record it as maintenance, resolve and"
                                            " close the ticket with the cause.",)))
