"""Q/GDW 1376.1 AFN0C F5 终端控制设置状态 (the terminal's control settings state), pn = 0.

Layout (uplink answer):

* byte 0 — 保电、剔除和催费告警投入状态 (BS8): D0 protection (保电) in force, D1 removal (剔除) in force,
  D2 fee-reminder alarm (催费告警) in force; D3..D7 reserved;
* byte 1 — 总加组有效标志位 (BS8): D0..D7 = total-add groups 1..8 present in what follows;
* for each present group, in group order, six bytes: 功控定值方案号 (BIN, the power-control scheme),
  功控时段有效标志位 (BS8), 功控状态 (BS8: D0 period, D1 rest-day, D2 business-stop, D3 current-power
  floating control), 电控状态 (BS8: D0 monthly energy control, D1 purchase control), 功控轮次状态 (BS8),
  电控轮次状态 (BS8).

The master reads it to verify protect on / off (AFN05 F25 / F33) and purchase control on / off (AFN05 F16 /
F24): the terminal's own account of what is in force. Layout after the standard's F5 table; none of the shared
public frames carries an F5 answer to check it against (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

GROUP_BYTES = 6


@dataclass(frozen=True, slots=True)
class GroupControlState:
    """One total-add group's control state in F5."""

    group: int
    power_scheme: int = 0
    power_periods: int = 0
    power_state: int = 0
    energy_state: int = 0
    power_rounds: int = 0
    energy_rounds: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.group <= 8:
            raise ProtocolError("value", detail=f"F5 total-add group must be 1..8, got {self.group}")
        for name in ("power_scheme", "power_periods", "power_state", "energy_state", "power_rounds",
                     "energy_rounds"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ProtocolError("value", detail=f"F5 {name} is one byte, got {getattr(self, name)}")

    @property
    def purchase_control(self) -> bool:
        """电控状态 D1: purchase (购电) control in force for the group."""
        return bool(self.energy_state & 0x02)


@dataclass(frozen=True, slots=True)
class ControlState:
    """AFN0C F5: protection, removal and fee-alarm flags and the present groups' control states."""

    protected: bool
    removed: bool = False
    fee_alarm: bool = False
    groups: tuple[GroupControlState, ...] = ()

    def __post_init__(self) -> None:
        numbers = [g.group for g in self.groups]
        if numbers != sorted(set(numbers)):
            raise ProtocolError("value", detail=f"F5 groups must be distinct and in order, got {numbers}")


def _decode_f5(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 2, "AFN0C F5")
    flags, present = data[pos], data[pos + 1]
    groups: list[GroupControlState] = []
    at = pos + 2
    for bit in range(8):
        if not present & (1 << bit):
            continue
        need(end, at, GROUP_BYTES, f"AFN0C F5 group {bit + 1}")
        groups.append(GroupControlState(bit + 1, *data[at:at + GROUP_BYTES]))
        at += GROUP_BYTES
    return ControlState(bool(flags & 0x01), bool(flags & 0x02), bool(flags & 0x04), tuple(groups)), at


def _encode_f5(value: object, opts: Options) -> bytes:
    expect(value, ControlState, "AFN0C F5")
    assert isinstance(value, ControlState)
    flags = (0x01 if value.protected else 0) | (0x02 if value.removed else 0) | (0x04 if value.fee_alarm else 0)
    present = 0
    body = b""
    for g in value.groups:
        present |= 1 << (g.group - 1)
        body += bytes((g.power_scheme, g.power_periods, g.power_state, g.energy_state, g.power_rounds,
                       g.energy_rounds))
    return bytes((flags, present)) + body


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x0C, 1, 5): FnCodec("terminal control settings state", _decode_f5, _encode_f5),
}
