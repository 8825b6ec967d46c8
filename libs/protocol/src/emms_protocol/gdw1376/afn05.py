"""AFN 05 — control commands (downlink, PW present); the terminal answers with AFN 00 (§3.5).

F1 remote trip (pn = control round; one byte: power-limit time in half hours
and alarm delay in minutes, 0..15 each), F2 allow closing (pn = round, no data),
F25 protection (保电) on (p0; one byte: duration in half hours, 0 = until
released by F33), F31 time sync (A.1), F29 / F37 allow / forbid active
reporting, F33 protection off, F38 / F39 activate / disconnect the link (no data).

F1 nibbles: the power-limit time (限电时间) is D3..D0 and the alarm delay
(告警延时) D7..D4 — what public terminal firmware executes and vendor tools
build (evidence in docs/protocol.md). ``Options.trip_time_high_nibble=True``
selects the reverse order for a terminal that reads it the other way.

F25 carries its byte even when the duration is 0: a terminal that finds the
PW from the frame's end finds F25 one byte short without it, one that walks
from the front reads the first PW byte as the duration and fails the password
check — either way the command is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need, no_data
from emms_protocol.gdw1376.layout import A1, field_codec

HALF_HOUR = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class TripCommand:
    """F1: ``limit_half_hours`` 0..15 (0 = until released), ``alarm_delay_min`` 0..15 (0 = trip now)."""

    limit_half_hours: int = 0
    alarm_delay_min: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.limit_half_hours <= 15 and 0 <= self.alarm_delay_min <= 15):
            raise ProtocolError("value", detail=f"trip times must be 0..15: {self!r}")


@dataclass(frozen=True, slots=True)
class ProtectCommand:
    """F25 保电投入: ``duration_half_hours`` 0..255 (BIN, 0.5 h units); 0 = protected until F33 releases it."""

    duration_half_hours: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.duration_half_hours <= 255:
            raise ProtocolError("value", detail=f"protection duration must be 0..255 half hours: {self!r}")

    @property
    def duration(self) -> timedelta | None:
        """How long the protection lasts; None = until released (F33)."""
        return self.duration_half_hours * HALF_HOUR if self.duration_half_hours else None


def _decode_trip(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 1, "AFN05 F1")
    hi, lo = data[pos] >> 4, data[pos] & 0x0F
    value = TripCommand(hi, lo) if opts.trip_time_high_nibble else TripCommand(lo, hi)
    return value, pos + 1


def _encode_trip(value: object, opts: Options) -> bytes:
    expect(value, TripCommand, "AFN05 F1")
    assert isinstance(value, TripCommand)
    if opts.trip_time_high_nibble:
        return bytes(((value.limit_half_hours << 4) | value.alarm_delay_min,))
    return bytes(((value.alarm_delay_min << 4) | value.limit_half_hours,))


def _decode_protect(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 1, "AFN05 F25")
    return ProtectCommand(data[pos]), pos + 1


def _encode_protect(value: object, opts: Options) -> bytes:
    expect(value, ProtectCommand, "AFN05 F25")
    assert isinstance(value, ProtectCommand)
    return bytes((value.duration_half_hours,))


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x05, 0, 1): FnCodec("remote trip", _decode_trip, _encode_trip),
    (0x05, 0, 2): no_data("allow closing"),
    (0x05, 0, 25): FnCodec("protection (保电) on", _decode_protect, _encode_protect),
    (0x05, 0, 29): no_data("allow active reporting"),
    (0x05, 0, 31): field_codec("time sync", A1),
    (0x05, 0, 33): no_data("protection (保电) off"),
    (0x05, 0, 37): no_data("forbid active reporting"),
    (0x05, 0, 38): no_data("activate link"),
    (0x05, 0, 39): no_data("disconnect link"),
}
