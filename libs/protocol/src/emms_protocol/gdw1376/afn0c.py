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
    EnergyReading,
    ForwardEnergies,
    ReverseEnergies,
    decode_reading,
    encode_reading,
    quadrant_codec,
    reading_codec,
)
from emms_protocol.gdw1376.formats import dec_a14, enc_a14
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
    """F168: settled / unsettled active energy, total and per rate (kWh)."""

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
    settled, pos = decode_reading(data, pos, end, opts, 5, None)
    n = len(settled.rates) + 1
    need(end, pos, n * 5, "F168 unsettled energy")
    values = [dec_a14(data, p, opts) for p in range(pos, pos + n * 5, 5)]
    info = SettlementInfo(settled.read_at, settled.total, settled.rates, values[0], tuple(values[1:]))
    return info, pos + n * 5


def _encode_f168(value: object, opts: Options) -> bytes:
    expect(value, SettlementInfo, "F168")
    assert isinstance(value, SettlementInfo)
    if len(value.unsettled_rates) != len(value.settled_rates):
        raise ProtocolError("value", detail="F168: settled and unsettled need the same number of rates")
    head = encode_reading(EnergyReading(value.read_at, value.settled_total, value.settled_rates), opts, 5)
    return head + b"".join(enc_a14(v, opts) for v in (value.unsettled_total, *value.unsettled_rates))


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
