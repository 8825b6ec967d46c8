"""Fault rules that need no database: the illegal-frame rate of a port, alarm severities, FEP metrics parsing,
the duty-log rows of command results and oplog messages."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_messages.control import CommandResult
from emms_operations.consumers import command_row
from emms_operations.faults.model import KINDS, alarm_severity, channel_down_fault, illegal_rate_fault, procedure
from emms_operations.health.poller import parse_fep_metrics
from emms_operations.masterdata import terminal_fields, terminal_key
from emms_runtime.oplog import entry

FEP_TEXT = """# HELP emms_fep_frames_total Whole 1376.1 frames
# TYPE emms_fep_frames_total counter
emms_fep_frames_total{direction="in",port="9027"} 900.0
emms_fep_frames_total{direction="out",port="9027"} 850.0
emms_fep_frames_total{direction="in",port="serial:/dev/ttyS0"} 10.0
# HELP emms_fep_illegal_frames_total Frames refused
# TYPE emms_fep_illegal_frames_total counter
emms_fep_illegal_frames_total{port="9027",reason="checksum"} 60.0
emms_fep_illegal_frames_total{port="9027",reason="oversize"} 40.0
# HELP emms_fep_connections Open terminal links
# TYPE emms_fep_connections gauge
emms_fep_connections{port="9027"} 12.0
# HELP emms_fep_sessions_online Terminals logged in on this replica
# TYPE emms_fep_sessions_online gauge
emms_fep_sessions_online 12.0
"""


def test_fep_metrics_per_port() -> None:
    ports = parse_fep_metrics(FEP_TEXT)
    assert set(ports) == {"9027", "serial:/dev/ttyS0"}
    p = ports["9027"]
    assert (p.frames_in, p.frames_out, p.illegal, p.connections) == (900.0, 850.0, 100.0, 12.0)


def test_illegal_frame_rate_rule() -> None:
    assert illegal_rate_fault("9027", 900, 100, 0.05, 20) is not None
    c = illegal_rate_fault("9027", 900, 100, 0.05, 20)
    assert c is not None and c.level == "channel" and c.subject == "fep-port:9027" and c.detail["ratio"] == 0.1
    assert illegal_rate_fault("9027", 900, 19, 0.01, 20) is None, "below the minimum count: noise"
    assert illegal_rate_fault("9027", 10_000, 100, 0.05, 20) is None, "1 % is below the ratio"
    assert illegal_rate_fault("9027", 0, 0, 0.05, 1) is None


def test_alarm_severity() -> None:
    assert alarm_severity("ERC37", ["ERC37"]) == "critical"
    assert alarm_severity("ERC14", ["ERC37"]) == "major"


def test_terminal_master_data() -> None:
    assert terminal_key("3701-00012") == "3701-00012"
    assert terminal_key("3701000C") == "3701-00012"
    assert terminal_key("bogus") is None and terminal_key(None) is None
    assert terminal_fields({"kind": "concentrator", "model": "DJGZ23", "manufacturer": "Acme", "firmware": "",
                            "software_version": "2.1"}) == {"kind": "concentrator", "model": "DJGZ23",
                                                            "vendor": "Acme", "firmware": "2.1"}


def test_command_result_is_a_duty_log_row_with_a_stable_id() -> None:
    r = CommandResult(job_id="j1", meter_id="M1", terminal="3701-00012", action="trip", origin="manual",
                      requested_by="op1", state="failed", reason="timed out", finished_at=datetime.now(UTC))
    row = command_row(r)
    assert row == command_row(r)
    assert row[0] == "control/j1/M1/3701-00012/final" and row[3] == "command.failed" and row[6] == "failed"
    assert row[4] == "op1" and row[8] == "3701-00012" and row[9] == "M1"


def test_oplog_entry_defaults() -> None:
    e = entry(service="identity", category="user", action="user.update", actor="admin", target="bob")
    assert e.entry_id.startswith("identity/") and e.outcome == "success" and e.at.tzinfo is not None
    assert e.natural_key() == e.entry_id
    assert entry(service="x", category="c", action="a", actor="u", entry_id="x/1").entry_id == "x/1"


def test_every_fault_kind_has_a_standard_procedure() -> None:
    for kind in KINDS:
        steps = procedure(kind)
        assert len(steps) >= 3 and all(s.strip() for s in steps), kind
    assert procedure(None) and procedure("unknown")


def test_channel_down_rule() -> None:
    assert channel_down_fault("tcp-server:9027", 0, busy=True, active=False) is not None
    assert channel_down_fault("tcp-server:9027", 0, busy=False, active=True) is not None, "kept across a restart"
    assert channel_down_fault("tcp-server:9027", 0, busy=False, active=False) is None, "never in use: not down"
    assert channel_down_fault("tcp-server:9027", 1, busy=True, active=True) is None, "a link is back"
