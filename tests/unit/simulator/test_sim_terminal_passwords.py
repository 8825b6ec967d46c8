"""Simulated terminals' own passwords: from the seed, in the manifest, checked on every PW-carrying frame,
changed by AFN04 F5 (EMMS's plain-PW layout) with the PW in force."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from emms_protocol.gdw1376 import DataUnit, RawData, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_sim import auth_param
from emms_sim.answers import Outcome, answer
from emms_sim.fleet import FieldRates, Fleet, FleetConfig
from emms_sim.manifest import write_manifest
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC).timestamp()


def _config(own: bool, seed: int = 5) -> FleetConfig:
    return FleetConfig(seed=seed, concentrators=3, meters_per=2, rates=FieldRates.quiet(), own_passwords=own)


def _confirmed(outcome: Outcome) -> bool:
    (frame,) = outcome.frames
    return frame.afn == 0x00 and decode_units(frame)[0].fn == 1


def _f5(new: bytes) -> list[DataUnit]:
    return [DataUnit(0, 5, RawData(0x04, 5, 0, bytes((1,)) + (16).to_bytes(2, "little") + new))]


def test_own_passwords_are_per_terminal_and_per_seed_and_zero_otherwise() -> None:
    own = Fleet(_config(True))
    passwords = [own.password(i) for i in own.terminals()]
    assert all(len(p) == 16 for p in passwords) and len(set(passwords)) == 3
    assert passwords == [Fleet(_config(True)).password(i) for i in range(3)]  # deterministic
    assert passwords != [Fleet(_config(True, seed=6)).password(i) for i in range(3)]
    assert {Fleet(_config(False)).password(i) for i in range(3)} == {bytes(16)}


def test_the_manifest_lists_own_passwords_only(tmp_path: Path) -> None:
    write_manifest(Fleet(_config(True)), tmp_path / "own.json")
    write_manifest(Fleet(_config(False)), tmp_path / "zero.json")
    own = json.loads((tmp_path / "own.json").read_text())
    assert own["own_passwords"] is True
    assert [t["password_hex"] for t in own["terminals"]] == [Fleet(_config(True)).password(i).hex() for i in range(3)]
    assert all("password_hex" not in t for t in json.loads((tmp_path / "zero.json").read_text())["terminals"])


def test_f5_changes_the_password_checked_with_the_one_in_force() -> None:
    state = TerminalState(GroundTruth(_config(True)), 1, started_ts=T0 - 86400.0)
    old, new = state.password, bytes(range(16))
    sync = [DataUnit(0, 38, None)]  # AFN05 F38: "the link is up", changes nothing
    assert not _confirmed(answer(state, b.request(state.address, 0x05, sync, 1, bytes(16)), T0))  # zeros refused
    assert _confirmed(answer(state, b.request(state.address, 0x05, sync, 1, old), T0))
    refused = answer(state, b.request(state.address, 0x04, _f5(new), 2, bytes(16)), T0)  # F5 under a wrong PW
    assert not _confirmed(refused) and state.password == old
    assert [e["kind"] for e in refused.effects.runtime_events] == ["password_refused"]
    changed = answer(state, b.request(state.address, 0x04, _f5(new), 3, old), T0 + 1)
    assert _confirmed(changed) and state.password == new
    assert [e["kind"] for e in changed.effects.runtime_events] == ["password_changed"]
    assert new.hex() not in json.dumps(changed.effects.runtime_events)
    assert not _confirmed(answer(state, b.request(state.address, 0x05, sync, 4, old), T0 + 2))  # stale
    assert _confirmed(answer(state, b.request(state.address, 0x05, sync, 5, new), T0 + 2))


def test_f5_in_another_layout_is_denied_and_changes_nothing() -> None:
    state = TerminalState(GroundTruth(_config(True)), 0, started_ts=T0 - 86400.0)
    old = state.password
    standard = [DataUnit(0, 5, RawData(0x04, 5, 0, bytes((1, 0x34, 0x12))))]  # scheme + parameter only
    assert not _confirmed(answer(state, b.request(state.address, 0x04, standard, 1, old), T0))
    assert state.password == old


@given(st.binary(min_size=16, max_size=16))
def test_plain_layout_round_trip(password: bytes) -> None:
    data = bytes((auth_param.PLAIN_SCHEME,)) + (16).to_bytes(2, "little") + password
    assert auth_param.password_of(data) == password
    assert auth_param.password_of(data[:-1]) is None
    assert auth_param.password_of(bytes((0,)) + data[1:]) is None
