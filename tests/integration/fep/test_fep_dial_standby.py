"""The FEP moves a dial-out link to the standby channel and back (R-4.6.6), against a simulated concentrator
listening on two ports over real TCP, a real FEP replica, broker and database: the primary port closed, the FEP
dials the standby after two failed dials, shows ``active: standby`` and reads the terminal's truth through it;
the primary port open again, the FEP's link moves back to it without the terminal going offline."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, until, wait_downlink_ready

from emms_bus import BusProducer, KafkaSettings
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome, SessionState
from emms_protocol.gdw1376 import decode_frame, decode_units
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_sim.dialled import DialledConcentrator
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

pytestmark = pytest.mark.integration
TRUTH = GroundTruth(FleetConfig(seed=31, concentrators=1, meters_per=1, mix=(("electricity", 1.0),),
                                rates=FieldRates.quiet(), first_terminal_address=7801))
HOST = "127.0.0.1"


@pytest.fixture(scope="module")
async def terminal() -> AsyncIterator[tuple[DialledConcentrator, int, int]]:
    """The concentrator listening on its standby port; its primary port is closed (nothing listens)."""
    sim = DialledConcentrator(TerminalState(TRUTH, 0))
    primary = await sim.listen("primary", HOST)
    standby = await sim.listen("standby", HOST)
    await sim.close("primary")
    try:
        yield sim, primary, standby
    finally:
        await sim.close_all()


@pytest.fixture(scope="module")
async def dialler(database_url: str, kafka_settings: KafkaSettings, bus: tuple[BusWatch, BusProducer],
                  terminal: tuple[DialledConcentrator, int, int]) -> AsyncIterator[Replica]:
    sim, primary, standby = terminal
    target = {"host": HOST, "port": primary, "terminal": sim.state.address.key,
              "standby": {"host": HOST, "port": standby}, "failover_after": 2, "primary_retry_s": 1.0}
    async with running_fep(fep_settings(database_url, kafka_settings, "fep-it-dial", dial=[target])) as fep:
        await wait_downlink_ready(bus[1], fep)
        yield fep


async def _active(fep: Replica, terminal: str) -> str | None:
    await until(lambda: len(fep.fep.writer) == 0)
    body = (await fep.client.get(f"/api/v1/terminals/{terminal}/channel")).json()
    return body.get("active")


async def test_the_fep_dials_the_standby_when_the_primary_fails_and_returns_to_the_primary(
        dialler: Replica, terminal: tuple[DialledConcentrator, int, int], bus: tuple[BusWatch, BusProducer]) -> None:
    sim, primary, standby = terminal
    watch, producer = bus
    key = sim.state.address.key
    token = issue_token(AuthSettings(), "op-dial", "operator")
    put = await dialler.client.put(
        f"/api/v1/terminals/{key}/channel", headers={"Authorization": f"Bearer {token}"},
        json={"primary_channel": {"kind": "dialout", "host": HOST, "port": primary},
              "standby_channel": {"kind": "dialout", "host": HOST, "port": standby}})
    assert put.status_code == 200, put.text

    def on(port: int) -> bool:
        session = dialler.fep.sessions.get(key)
        return session is not None and session.conn.port.port == f"tcp-client:{HOST}:{port}"

    await until(lambda: on(standby), 20)
    assert sim.accepted["primary"] == 0 and sim.connected("standby") == 1
    assert await _active(dialler, key) == "standby"
    meter = TRUTH.fleet.meters_of(0)[0]
    request = DownlinkRequest(request_id=f"dial-{secrets.token_hex(6)}", terminal=key, afn=0x0C,
                              units=[DataUnitRequest(pn=[meter.pn], fn=[129])], requested_by="fep-dial-test",
                              timeout_s=5.0)
    await producer.publish(request)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED, result.detail
    (unit,) = decode_units(decode_frame(bytes.fromhex(result.frames[0]["raw_hex"])))
    assert isinstance(unit.value, EnergyReading) and unit.value.read_at is not None
    assert unit.value.total == TRUTH.truth(meter.meter_id, "energy.active.import.total", unit.value.read_at)

    await sim.listen("primary", HOST, primary)  # the primary channel is back
    await until(lambda: on(primary), 20)
    await until(lambda: sim.connected("standby") == 0, 10)  # the standby link was closed
    assert await _active(dialler, key) == "primary"
    assert not [s for s in watch.sessions if s.terminal == key and s.state is SessionState.OFFLINE]

