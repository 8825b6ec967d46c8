"""The pieces of a multi-process fleet: shares, child arguments, ledger forwarding, file limit, the lean link."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from emms_sim import cli
from emms_sim.controls import ControlLedger
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.fleet_runner import FleetRunner, share_of
from emms_sim.loopback_master import LoopbackMaster
from emms_sim.process_setup import connection_budget, loop_name
from emms_sim.run_parent import ProcessFleet, child_argv
from emms_sim.session import SessionConfig, TerminalSession
from emms_sim.terminal_link import open_link
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth


@pytest.mark.parametrize(("n", "k"), [(20000, 2), (7, 3), (5, 5), (19901, 4)])
def test_shares_cover_every_terminal_once_in_order(n: int, k: int) -> None:
    shares = [share_of(n, j, k) for j in range(k)]
    assert [i for s in shares for i in s] == list(range(n))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    with pytest.raises(ValueError, match="share"):
        share_of(n, k, k)


def test_child_arguments_parse_back_to_the_same_fleet_and_a_share_of_the_ramp() -> None:
    args = cli.parser().parse_args(
        ["run", "--fep", "127.0.0.1:9027", "--concentrators", "30", "--meters-per", "7", "--seed", "9",
         "--mix", "electricity=2,water=1", "--quiet-field", "--reporting", "--faults", "no-answer=1%",
         "--fault-terminals", "1,2", "--source-ip", "127.0.0.2-127.0.0.3", "--ramp-per-s", "900",
         "--processes", "3", "--heartbeat-s", "2.5", "--loop", "asyncio", "--clock-drift-ppm", "300",
         "--clock-sync-day", "5", "--network", "--replace-meter", "m-000002-0003@2026-03-01T02:30:00Z",
         "--standby-fep", "127.0.0.1:9028"])
    child = cli.parser().parse_args(child_argv(args, 2, 3))
    assert child.standby_fep == ("127.0.0.1", 9028)
    assert cli._config(child) == cli._config(args)
    assert (child.share, child.ramp_per_s, child.heartbeat_s) == ((2, 3), 300.0, 2.5)
    assert (child.faults, child.fault_terminals, child.source_ip, child.loop) == \
        ("no-answer=1%", "1,2", "127.0.0.2-127.0.0.3", "asyncio")
    assert child.reporting and child.http is None and child.manifest is None


def test_a_forwarded_ledger_change_changes_the_parents_truth() -> None:
    config = FleetConfig(4, 2, 3, rates=FieldRates.quiet())
    child, parent = GroundTruth(config), GroundTruth(config)
    sent: list[str] = []
    child.ledger.listener = lambda change: sent.append(json.dumps(change))  # what goes down the pipe
    meter = next(m for m in child.fleet.meters_of(0) if m.utility == "electricity")
    assert child.ledger.set_cut_off(meter.meter_id, 1.8e9, True)
    child.ledger.sync_clock(meter.meter_id, 1.8e9 + 5)
    fleet = ProcessFleet(parent, lambda share: [], 1)
    for line in sent:
        fleet._dispatch(None, {"type": "ledger", "change": json.loads(line)})  # type: ignore[arg-type]
    assert parent.ledger.cut_off(meter.meter_id, 1.8e9 + 1)
    assert parent.ledger.last_clock_sync(meter.meter_id, 1.8e9 + 10) == 1.8e9 + 5
    assert parent.model.reading(meter, 1.8e9 + 60)["relay.state"] == 0.0  # type: ignore[index]
    with pytest.raises(ValueError, match="ledger change"):
        ControlLedger().apply({"op": "melt", "meter": "m", "ts": 1})


def test_a_process_raises_its_soft_file_limit_to_the_hard_one() -> None:
    code = ("import resource; from emms_sim.process_setup import raise_open_files_limit as r; "
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
            "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard)); "
            "print(r(), *resource.getrlimit(resource.RLIMIT_NOFILE))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    now, soft, hard = map(int, out.stdout.split())
    assert now == soft == hard


def test_too_many_concentrators_for_one_process_is_refused_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    too_many = connection_budget() + 1
    code = cli.main(["run", "--fep", "127.0.0.1:9", "--concentrators", str(too_many), "--quiet-field"])
    assert code == 2
    assert "--processes 2" in capsys.readouterr().err
    assert cli.main(["run", "--fep", "127.0.0.1:9", "--concentrators", "2", "--processes", "3"]) == 2
    assert loop_name("auto") in ("uvloop", "asyncio")
    with pytest.raises(ValueError, match="event loop"):
        loop_name("trio")


def test_source_addresses_rotate_over_each_runners_own_sessions() -> None:
    truth = GroundTruth(FleetConfig(1, 12, 2, rates=FieldRates.quiet()))
    runner = FleetRunner(truth, SessionConfig("127.0.0.1", 9), indexes=share_of(12, 1, 2),
                         source_ips=["127.0.0.2", "127.0.0.3"])
    assert [s.state.index for s in runner.sessions] == list(range(6, 12))
    assert [s.config.source_ip for s in runner.sessions] == ["127.0.0.2", "127.0.0.3"] * 3


async def test_a_link_from_a_source_address_connects_from_it() -> None:
    peers: list[str] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        writer.write(b"\x00")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = await open_link("127.0.0.1", port, "127.0.0.3")
    await link.wait(5.0)
    assert link.closed and peers == ["127.0.0.3"]
    link.close()
    server.close()
    await server.wait_closed()


async def test_stop_wakes_an_idle_session_at_once_and_it_logs_out() -> None:
    """The link waits for its next heartbeat (60 s away): one watcher per stop event must wake it."""
    master = LoopbackMaster()
    port = await master.start()
    truth = GroundTruth(FleetConfig(2, 3, 2, rates=FieldRates.quiet()))
    sessions = [TerminalSession(TerminalState(truth, i, heartbeat_s=60.0), SessionConfig("127.0.0.1", port))
                for i in range(3)]
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(s.run(stop)) for s in sessions]
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while master.counts.logins < 3:
        assert loop.time() < end, "logins"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    stopped_at = loop.time()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert loop.time() - stopped_at < 1.5
    await asyncio.sleep(0.05)
    assert master.counts.logouts == 3 and master.counts.heartbeats == 0
    await master.close()



def test_a_chosen_replacement_swaps_the_meter_then_and_is_refused_for_a_meter_not_there() -> None:
    base = FleetConfig(4, 2, 3, rates=FieldRates.quiet())
    meter = GroundTruth(base).fleet.meter(1, 2)
    assert meter is not None and meter.replaced_at is None
    at = meter.installed_at + 30 * 86400.0
    truth = GroundTruth(FleetConfig(4, 2, 3, rates=FieldRates.quiet(), replacements=((meter.meter_id, at),)))
    swapped = truth.fleet.meter(1, 2)
    assert swapped is not None and swapped.replaced_at == at
    item = "energy.active.import.total" if meter.utility == "electricity" else next(
        k for k in truth.reading_of(swapped, at) or {} if k.startswith(("volume", "heat")))
    before, after = truth.reading_of(swapped, at - 1e-3), truth.reading_of(swapped, at + 3600.0)
    assert before is not None and after is not None
    assert after[item] < before[item] and after[item] < 50.0  # the new register starts from zero
    assert swapped.address(1) != swapped.address(0)
    with pytest.raises(ValueError, match="not installed then"):
        GroundTruth(FleetConfig(4, 2, 3, rates=FieldRates.quiet(),
                                replacements=((meter.meter_id, meter.installed_at - 1.0),)))
    with pytest.raises(ValueError, match="no such meter"):
        GroundTruth(FleetConfig(4, 2, 3, rates=FieldRates.quiet(), replacements=(("m-000009-0001", at),)))
