"""AFN 0C — class-1 (current) data, terminal's answers (§3.7 of the notes).

Requests (downlink) carry DA/DT only; see :mod:`.registry`. Layouts from [KSY]
``afn12_*`` and [LM-C]; F25 / F33 / F129 lengths cross-checked against real
responses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need
from emms_protocol.gdw1376.energy_blocks import (
    MAX_RATES,
    ForwardEnergies,
    ReverseEnergies,
    quadrant_codec,
    reading_codec,
)
from emms_protocol.gdw1376.formats import dec_a15, dec_bcd, enc_a14, enc_a15, enc_bcd, unsigned_run
from emms_protocol.gdw1376.layout import A1, A5, A7, A8, A9, A11, A14, A15, A25, field_codec, record_codec


@dataclass(frozen=True, slots=True)
class PowerQuality:
    """F25: power (kW / kvar / kVA), power factor (%), voltage (V), current (A) at reading time Tm."""

    read_at: datetime | None
    p_total: float | None
    p_a: float | None
    p_b: float | None
    p_c: float | None
    q_total: float | None
    q_a: float | None
    q_b: float | None
    q_c: float | None
    pf_total: float | None
    pf_a: float | None
    pf_b: float | None
    pf_c: float | None
    u_a: float | None
    u_b: float | None
    u_c: float | None
    i_a: float | None
    i_b: float | None
    i_c: float | None
    i_0: float | None
    s_total: float | None
    s_a: float | None
    s_b: float | None
    s_c: float | None


@dataclass(frozen=True, slots=True)
class PurchaseInfo:
    """F167: prepaid meter purchase / usage information (money in yuan, energy in kWh)."""

    read_at: datetime | None
    purchase_count: int | None
    balance: float | None
    total_purchased_money: float | None
    remaining_energy: float | None
    overdraft_energy: float | None
    total_purchased_energy: float | None
    credit_limit_energy: float | None
    alarm_energy: float | None
    fault_energy: float | None


@dataclass(frozen=True, slots=True)
class SettlementInfo:
    """F168: settled / unsettled active energy, total and per rate (kWh).

    Wire: Tm (A.15), tariff count M (A.8, two bytes — ``Options.f168_rate_count_bytes``),
    settled total + M rates, unsettled total + M rates (A.14 each).
    """

    read_at: datetime | None
    settled_total: float | None
    settled_rates: tuple[float | None, ...]
    unsettled_total: float | None
    unsettled_rates: tuple[float | None, ...]


_F25 = record_codec("current power, PF, voltage, current", PowerQuality,
                    [A15, A9, A9, A9, A9, A9, A9, A9, A9, A5, A5, A5, A5, A7, A7, A7, A25, A25, A25, A25,
                     A9, A9, A9, A9])
_F167 = record_codec("meter purchase / usage information", PurchaseInfo,
                     [A15, A8, A14, A14, A11, A11, A11, A11, A11, A11])


def _decode_f168(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    width = opts.f168_rate_count_bytes
    need(end, pos, 5 + width, "F168 head")
    read_at = dec_a15(data, pos, opts)
    m = _f168_rate_count(data, pos + 5, width, opts)
    pos += 5 + width
    n = m + 1
    need(end, pos, 2 * n * 5, "F168 settled and unsettled energy")
    values = unsigned_run(data, pos, 2 * n, 5, 10000, opts)
    info = SettlementInfo(read_at, values[0], tuple(values[1:n]), values[n], tuple(values[n + 1:]))
    return info, pos + 2 * n * 5


def _f168_rate_count(data: bytes, pos: int, width: int, opts: Options) -> int:
    """M: A.8 (two BCD bytes; all-EE = absent, read as no rates) or one BIN byte, at most ``MAX_RATES``."""
    m = data[pos] if width == 1 else dec_bcd(data, pos, 2, opts) or 0
    if m > MAX_RATES:
        raise ProtocolError("value", pos, f"F168: {m} tariff rates is more than {MAX_RATES}")
    return m


def _encode_f168(value: object, opts: Options) -> bytes:
    expect(value, SettlementInfo, "F168")
    assert isinstance(value, SettlementInfo)
    m = len(value.settled_rates)
    if len(value.unsettled_rates) != m:
        raise ProtocolError("value", detail="F168: settled and unsettled need the same number of rates")
    if m > MAX_RATES:
        raise ProtocolError("value", detail=f"F168: {m} tariff rates is more than {MAX_RATES}")
    count = bytes((m,)) if opts.f168_rate_count_bytes == 1 else enc_bcd(m, 2, "A.8")
    return enc_a15(value.read_at, opts) + count + b"".join(
        enc_a14(v, opts) for v in (value.settled_total, *value.settled_rates, value.unsettled_total,
                                   *value.unsettled_rates))


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x0C, 1, 2): field_codec("terminal clock", A1),
    (0x0C, 1, 25): _F25,
    (0x0C, 1, 33): quadrant_codec("current forward active / reactive energy", ForwardEnergies),
    (0x0C, 1, 34): quadrant_codec("current reverse active / reactive energy", ReverseEnergies),
    (0x0C, 1, 129): reading_codec("current forward active energy", 5),
    (0x0C, 1, 130): reading_codec("current forward reactive energy", 4),
    (0x0C, 1, 167): _F167,
    (0x0C, 1, 168): FnCodec("meter settlement information", _decode_f168, _encode_f168),
}
