"""The meters' own side of DL/T 645-2007 and CJ/T 188-2004: answer a forwarded frame from the truth.

A concentrator's AFN10 transparent forwarding hands the inner frame to the
meter it addresses; this module plays that meter. Reads are answered with the
truth at the meter's own clock; trips, closes, valve commands and time writes
change the world through the :class:`ControlLedger` (so the truth follows).
"""

from __future__ import annotations

from datetime import datetime

from emms_protocol import cjt188, dlt645
from emms_protocol.cjt188 import data_ids as ids188
from emms_protocol.cjt188 import meter_types as mt188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.cjt188.units import unit_name
from emms_protocol.dlt645 import control as cc645
from emms_protocol.dlt645 import purchase as p645
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ
from emms_sim import collectors, meter_purse, meter_purse_645
from emms_sim.fleet import MeterSpec
from emms_sim.meters import Reading
from emms_sim.truth import GroundTruth

_ENERGY_KIND = {0x01: "energy.active.import", 0x02: "energy.active.export", 0x03: "energy.reactive.import",
                0x04: "energy.reactive.export", 0x05: "energy.reactive.q1", 0x06: "energy.reactive.q2",
                0x07: "energy.reactive.q3", 0x08: "energy.reactive.q4"}
_RATES = ("total", "t1", "t2", "t3", "t4")
_VARIABLE = {0x01: "voltage", 0x02: "current", 0x03: "power.active", 0x04: "power.reactive",
             0x05: "power.apparent", 0x06: "power_factor"}
_PHASE = {0x00: "total", 0x01: "a", 0x02: "b", 0x03: "c"}
_RELAY_OPEN = 0x0050  # status word 3: bit 4 relay open, bit 6 relay command open
METER_TYPE_188 = {"water": mt188.WATER_COLD, "gas": mt188.GAS, "heat": mt188.HEAT}


class MeterBus:
    """The meters behind one concentrator, answering forwarded frames at a given instant."""

    def __init__(self, truth: GroundTruth, terminal_index: int) -> None:
        self.truth = truth
        self.terminal_index = terminal_index

    def by_address(self, address: str, ts: float) -> MeterSpec | None:
        """The meter answering to ``address`` now (F10 holds 12 digits: a 188 address matches on its last 12).

        Every address of this terminal ends in ``TTTTTT PPPP GG`` (terminal index, pn, generation), so the
        only meter that can answer is the one at the pn those digits name: it is looked up, not searched
        for among the terminal's meters (which cost a formatted address per meter per request).
        """
        fleet = self.truth.fleet
        if self.terminal_index >= 1_000_000 or fleet.max_pn(self.terminal_index) >= 10_000:
            return self._scan(address, ts)  # wider addresses: their last 12 digits name no single pn
        tail = address[-12:]
        if len(tail) != 12 or tail[:6] != f"{self.terminal_index:06d}" \
                or not (tail[6:10].isascii() and tail[6:10].isdigit()):
            return None
        meter = fleet.meter(self.terminal_index, int(tail[6:10]))
        if meter is None or not self._answers(meter, address, ts):
            return None
        return meter

    def _scan(self, address: str, ts: float) -> MeterSpec | None:
        for meter in self.truth.fleet.meters_of(self.terminal_index):
            if self._answers(meter, address, ts):
                return meter
        return None

    @staticmethod
    def _answers(meter: MeterSpec, address: str, ts: float) -> bool:
        if not meter.present(ts):
            return False
        own = meter.address(meter.generation(ts))
        return own == address or (len(own) != len(address) and own[-12:] == address[-12:])

    def meter_clock(self, meter: MeterSpec, ts: float) -> datetime:
        return datetime.fromtimestamp(ts + self.truth.model.clock_offset(meter, ts), tz=DEVICE_TZ)

    def answer(self, raw: bytes, ts: float) -> bytes | None:
        """The meter's reply to a forwarded frame; None when no meter answers (timeout)."""
        start = 0
        while start < len(raw) and raw[start] == 0xFE:
            start += 1
        if len(raw) - start >= 8 and raw[start + 7] == 0x68:
            return self._answer_645(raw, ts)
        return self._answer_188(raw, ts)

    # ---- DL/T 645-2007 --------------------------------------------------------------------
    def _answer_645(self, raw: bytes, ts: float) -> bytes | None:
        try:
            frame = dlt645.decode_frame(raw)
        except ProtocolError:
            return None  # a meter ignores a frame it cannot read
        body = frame.body
        if isinstance(body, dlt645.TimeSync):
            self._broadcast_time(ts)
            return None  # broadcast: no reply
        collector = collectors.find(self.truth, self.terminal_index, frame.address)
        if collector is not None:
            return self._collector_645(collector, body, ts)
        meter = self.by_address(frame.address, ts)
        if meter is None or meter.protocol != "dlt645-2007":
            return None
        address = meter.address(meter.generation(ts))
        self.truth.purses.settle_meter(meter.meter_id, ts)  # a trip the purse crossed is in the relay before answering
        purse_answer = self._cost_control_645(meter, address, frame, raw, ts)
        if purse_answer is not None:
            return purse_answer
        if isinstance(body, dlt645.ReadRequest):
            value = self._value_645(meter, body.di, ts)
            if value is _NO_DATA:
                return dlt645.error_reply(address, cc645.READ, ["no_data"], preamble=4)
            try:
                return dlt645.read_reply(address, body.di, value, preamble=4)
            except ProtocolError:
                return dlt645.error_reply(address, cc645.READ, ["other"], preamble=4)
        if isinstance(body, dlt645.ControlCommand):
            if body.action in ("trip", "allow_close", "close"):
                self.truth.ledger.set_cut_off(meter.meter_id, ts, body.action == "trip")
            return dlt645.ack_reply(address, cc645.CONTROL, preamble=4)
        return dlt645.error_reply(address, frame.control, ["other"], preamble=4)

    def _broadcast_time(self, ts: float) -> None:
        """645 broadcast time: every 645 meter and every collector behind the concentrator takes it."""
        for each in self.truth.fleet.meters_of(self.terminal_index):
            if each.protocol == "dlt645-2007" and each.present(ts):
                self.truth.ledger.sync_clock(each.meter_id, ts)
        for address in collectors.addresses(self.truth, self.terminal_index):
            collectors.sync(self.truth, address, ts)

    def _collector_645(self, address: str, body: object, ts: float) -> bytes | None:
        """A collector's answer: its clock read, or a point-to-point time write (R-4.6.1.4)."""
        if isinstance(body, dlt645.ReadRequest) and body.di in collectors.CLOCK_DIS:
            now = collectors.clock(self.truth, address, ts, DEVICE_TZ)
            value = now if body.di == 0x0400010C else now.date() if body.di == 0x04000101 else now.timetz()
            return dlt645.read_reply(address, body.di, value, preamble=4)
        if isinstance(body, dlt645.WriteRequest) and body.di == 0x0400010C:
            collectors.sync(self.truth, address, ts)  # the written time is the master's (delay compensated)
            return dlt645.ack_reply(address, cc645.WRITE, preamble=4)
        return dlt645.error_reply(address, cc645.READ, ["no_data"], preamble=4)

    def _cost_control_645(self, meter: MeterSpec, address: str, frame: dlt645.Frame645, raw: bytes, ts: float
                          ) -> bytes | None:
        """The answer when ``frame`` is a cost-control frame (recharge, price / threshold write, purse read)."""
        body = frame.body
        if frame.control == cc645.SECURITY:
            return self._security_645(meter, address, raw, ts)
        if isinstance(body, dlt645.WriteRequest):
            if body.di in meter_purse_645.SETTINGS \
                    and meter_purse_645.write(self.truth.purses, meter, body.di, body.value, ts):
                return dlt645.ack_reply(address, cc645.WRITE, preamble=4)
            return dlt645.error_reply(address, cc645.WRITE, ["other"], preamble=4)
        if isinstance(body, dlt645.ReadRequest) and body.di in meter_purse_645.READS:
            held = meter_purse_645.value(self.truth.purses, meter, body.di, ts)
            if held is meter_purse_645.NOT_HELD:
                return dlt645.error_reply(address, cc645.READ, ["no_data"], preamble=4)
            return dlt645.read_reply(address, body.di, held, preamble=4)
        return None

    def _security_645(self, meter: MeterSpec, address: str, raw: bytes, ts: float) -> bytes:
        """03H: the plaintext recharge of a cost-control meter; any other security command is refused."""
        try:
            request = p645.parse_security_request(raw)
        except ProtocolError:
            return p645.security_error(address, ["other"], preamble=4)
        if request.di != p645.RECHARGE:
            return p645.security_error(address, ["other"], preamble=4)
        return meter_purse_645.recharge(self.truth.purses, meter, address, request.payload, ts)

    def _value_645(self, meter: MeterSpec, di: int, ts: float) -> object:
        di3, di2, di1, di0 = di >> 24, (di >> 16) & 0xFF, (di >> 8) & 0xFF, di & 0xFF
        if di3 == 0x04:
            return self._parameter_645(meter, di, ts)
        if di3 == 0x05 and di2 == 0x06 and 1 <= di0 <= 62:  # 上 n 次日冻结 (00:00 of today − (n−1) days)
            return self._daily_frozen_645(meter, di1, di0, ts)
        if di3 == 0x00 and di0 == 0x00 and (di2 == 0x00 or di2 in _ENERGY_KIND):
            # an energy block: only its registers
            prefixes = ("energy.active.import", "energy.active.export") if di2 == 0x00 else (_ENERGY_KIND[di2],)
            energy = self.truth.model.energy(meter, ts, prefixes)
            if energy is None:
                return _NO_DATA
            if di2 == 0x00:  # combined active = import + export
                return _block(energy, "energy.active.import", di1, plus="energy.active.export")
            return _block(energy, _ENERGY_KIND[di2], di1)
        reading = self.truth.reading_of(meter, ts)
        if reading is None:
            return _NO_DATA
        if di3 == 0x02 and di2 in _VARIABLE and di0 == 0x00:
            name = _VARIABLE[di2]
            if di1 == 0xFF:
                phases = ("a", "b", "c") if di2 <= 0x02 else ("total", "a", "b", "c")
                return tuple(reading.get(f"{name}.{p}") for p in phases)
            phase = _PHASE.get(di1)
            key = f"{name}.{phase}" if phase is not None and (di2 > 0x02 or phase != "total") else None
            return reading.get(key) if key is not None else _NO_DATA
        if di == 0x02800001:
            return reading.get("current.n")
        if di == 0x02800002:
            return reading.get("frequency")
        return _NO_DATA

    def _parameter_645(self, meter: MeterSpec, di: int, ts: float) -> object:
        if di in (0x04000101, 0x04000102, 0x0400010C):
            clock = self.meter_clock(meter, ts)
            return clock.date() if di == 0x04000101 else clock.timetz() if di == 0x04000102 else clock
        if di == 0x04000401:
            return meter.address(meter.generation(ts))
        if di == 0x04000503:
            return _RELAY_OPEN if self.truth.ledger.cut_off(meter.meter_id, ts) else 0
        if di == 0x04000501:
            return 0
        return _NO_DATA

    def _daily_frozen_645(self, meter: MeterSpec, di1: int, n: int, ts: float) -> object:
        day, _ = self.truth.cal.position_ts(ts)
        instant = self.truth.cal.day_start(day - (n - 1))
        if di1 == 0x00:
            return instant
        if di1 not in (0x01, 0x02):
            return _NO_DATA
        prefix = "energy.active.import" if di1 == 0x01 else "energy.active.export"
        reading = self.truth.model.energy(meter, instant.timestamp(), (prefix,))
        if reading is None:
            return _NO_DATA
        return _block(reading, prefix, 0xFF)

    # ---- CJ/T 188-2004 --------------------------------------------------------------------
    def _answer_188(self, raw: bytes, ts: float) -> bytes | None:
        try:
            frame = cjt188.decode_frame(raw)
        except ProtocolError:
            return None
        meter = self.by_address(frame.address, ts)
        if meter is None or meter.utility not in METER_TYPE_188:
            return None
        mtype = METER_TYPE_188[meter.utility]
        address = meter.address(meter.generation(ts))
        self.truth.purses.settle_meter(meter.meter_id, ts)  # a valve the purse closed is closed before answering
        seq = frame.seq or 0
        order = frame.di_order or "auto"
        function = frame.control & 0x3F
        if function == mt188.READ_DATA and frame.di == ids188.CURRENT_DATA:
            data = self.current_data_188(meter, ts)
            if data is None:
                return cjt188.error_reply(mtype, address, function, 0, seq=seq, preamble=2)
            return cjt188.read_reply(mtype, address, ids188.CURRENT_DATA, data, seq=seq, di_order=order, preamble=2)
        if function == mt188.WRITE_DATA and isinstance(frame.body, cjt188.ValveCommand):
            self.truth.ledger.set_cut_off(meter.meter_id, ts, frame.body.action == "close")
            return cjt188.write_reply(mtype, address, ids188.VALVE_CONTROL, self._status(meter, ts), seq=seq,
                                      di_order=order, preamble=2)
        if function == mt188.WRITE_DATA and isinstance(frame.body, cjt188.TimeWrite):
            self.truth.ledger.sync_clock(meter.meter_id, ts)
            return cjt188.write_reply(mtype, address, ids188.WRITE_TIME, self._status(meter, ts), seq=seq,
                                      di_order=order, preamble=2)
        if function == mt188.WRITE_DATA and frame.di in (ids188.WRITE_PRICE, ids188.WRITE_PURCHASE) \
                and meter_purse.write(self.truth.purses, meter, frame.di, frame.data[3:], ts):
            return cjt188.write_reply(mtype, address, frame.di, self._status(meter, ts), seq=seq, di_order=order,
                                      preamble=2)
        if function == mt188.READ_DATA and frame.di == ids188.PURCHASE:
            held = meter_purse.state(self.truth.purses, meter, ts)
            if held is not None:
                return p188.purchase_reply(mtype, address, held, seq=seq, di_order=order)
        return cjt188.error_reply(mtype, address, function, self._status(meter, ts), seq=seq, preamble=2)

    def _status(self, meter: MeterSpec, ts: float, reading: Reading | None = None) -> cjt188.Status188:
        """ST from the reading at ``ts`` (pass it when it is at hand: the same values)."""
        reading = (reading if reading is not None else self.truth.reading_of(meter, ts)) or {}
        return cjt188.status_word("open" if reading.get("valve.state", 1.0) else "closed",
                                  bool(reading.get("battery.low")))

    def current_data_188(self, meter: MeterSpec, ts: float) -> cjt188.WaterGasData | cjt188.HeatData | None:
        """The 901F answer: current and settlement-day (1st of the month) registers, clock, status."""
        reading = self.truth.reading_of(meter, ts)
        if reading is None:
            return None
        # of the settlement day only its register (None when the meter was not installed yet)
        settled = self.truth.model.register(meter, "heat" if meter.utility == "heat" else "vol",
                                            self.truth.schedule.month_start(ts))
        clock = self.meter_clock(meter, ts)
        status = self._status(meter, ts, reading)
        if meter.utility == "heat":
            return cjt188.HeatData(
                settlement_heat=_q(settled, 0x05), current_heat=_q(reading["heat.energy"], 0x05),
                heat_power=_q(reading["heat.power"], 0x17), flow_rate=_q(reading["flow.rate"], 0x35),
                cumulative_flow=_q(reading["volume.heat"], 0x2C),
                supply_temperature=reading["temperature.supply"], return_temperature=reading["temperature.return"],
                working_hours=int(reading["working_hours"] or 0), time=clock, status=status)
        item = f"{meter.utility}.volume"
        return cjt188.WaterGasData(_q(reading[item], 0x2C), _q(settled, 0x2C), clock, status)


class _NoData:
    pass


_NO_DATA = _NoData()


def _q(value: float | None, unit_code: int) -> cjt188.Quantity:
    return cjt188.Quantity(value, unit_code, unit_name(unit_code))


def _block(reading: Reading, prefix: str, di1: int, plus: str | None = None) -> object:
    def one(rate: str) -> float | None:
        value = reading.get(f"{prefix}.{rate}")
        if plus is not None and value is not None:
            value = round(value + (reading.get(f"{plus}.{rate}") or 0.0), 2)
        return value
    if di1 == 0xFF:
        return tuple(one(r) for r in _RATES)
    if di1 <= 4:
        return one(_RATES[di1])
    return _NO_DATA

