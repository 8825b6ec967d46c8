"""Relayed (cascaded) terminals in the FEP without sockets: a relayed session rides the link of the first
terminal of its route that holds a link of its own; its frames on that link are its own; it ends with
that link and comes back when a root logs in again."""

from __future__ import annotations

from typing import cast

import asyncpg
from test_fep_gateway import FakeLink, _gateway

from emms_fep.channel_match import active_channel
from emms_fep.connection import Connection
from emms_fep.gateway import Gateway
from emms_fep.relays import RelayRoutes
from emms_fep.sessions import SessionRegistry
from emms_messages.terminal import TerminalSession, UplinkFrame
from emms_protocol.gdw1376 import Address, DataUnit, encode_frame
from emms_protocol.gdw1376 import builders as b

X, Y, Z = Address(0x0171, 31), Address(0x0171, 32), Address(0x0171, 33)


def _fleet() -> tuple[Gateway, SessionRegistry, RelayRoutes, list[tuple[str, str]]]:
    gateway, sessions = _gateway()
    relays = RelayRoutes(cast(asyncpg.Pool, None), "fep", sessions, 2.0)
    departures: list[tuple[str, str]] = []
    sessions.on_arrival = relays.arrived

    def departed(terminal: str, reason: str) -> None:
        departures.append((terminal, reason))
        relays.departed(terminal)

    sessions.on_departure = departed
    return gateway, sessions, relays, departures


def _login(gateway: Gateway, address: Address) -> tuple[FakeLink, Connection]:
    link = FakeLink()
    conn = gateway.open_link(link)
    assert isinstance(conn, Connection)
    conn.data_received(encode_frame(b.login(address, 1)))
    return link, conn


def _published(gateway: Gateway) -> list[object]:
    return list(gateway._publish._items)  # type: ignore[attr-defined]


def test_a_relayed_terminal_rides_its_relay_and_its_frames_are_its_own() -> None:
    gateway, sessions, relays, _ = _fleet()
    relays.load({X.key: Y.key})
    assert sessions.get(X.key) is None  # nothing carries it yet
    link, conn = _login(gateway, Y)
    rider = sessions.get(X.key)
    assert rider is not None and rider.via == Y.key and rider.conn is conn and rider.channel == f"relay:{Y.key}"
    online = [p for p in _published(gateway) if isinstance(p, TerminalSession) and p.terminal == X.key]
    assert online[-1].state.value == "online" and online[-1].reason == f"relayed through {Y.key}"
    request = b.request(X, 0x0C, [DataUnit(1, 129, None)], 4)
    rider.send(encode_frame(request))
    assert link.written[-1] == encode_frame(request)  # addressed to X, on Y's link
    answer = encode_frame(b.response(request, []))
    illegal = conn.port.counters.illegal_frames
    conn.data_received(answer)
    assert conn.port.counters.illegal_frames == illegal and sessions.get(Y.key) is not None
    frames = [p for p in _published(gateway) if isinstance(p, UplinkFrame) and p.kind.value == "response"]
    assert frames[-1].terminal == X.key
    assert rider.counters.frames_in == 1 and rider.counters.bytes_in == len(answer)
    assert rider.counters.frames_out == 1
    y_counters = sessions.get(Y.key).counters  # type: ignore[union-attr]
    assert y_counters.bytes_in >= len(answer)  # the link's SIM carried it
    stranger = encode_frame(b.response(b.request(Z, 0x0C, [DataUnit(1, 129, None)], 5), []))
    conn.data_received(stranger)
    assert conn.port.counters.illegal_frames == illegal + 1  # an address not relayed here stays illegal


def test_the_relayed_session_ends_with_its_relay_and_comes_back_with_it() -> None:
    gateway, sessions, relays, departures = _fleet()
    relays.load({X.key: Y.key, Y.key: Z.key})
    _, z_conn = _login(gateway, Z)
    assert sessions.get(Y.key).via == Z.key and sessions.get(X.key).via == Z.key  # type: ignore[union-attr]
    _, y_conn = _login(gateway, Y)  # Y on a link of its own: X rides the nearest hop now
    assert sessions.get(Y.key).via is None and sessions.get(X.key).conn is y_conn  # type: ignore[union-attr]
    assert not z_conn.closed and z_conn.relayed == {}
    y_conn.link_lost("peer closed")
    assert sessions.get(X.key).conn is z_conn and sessions.get(Y.key).via == Z.key  # type: ignore[union-attr]
    assert (X.key, f"relay {Y.key} offline: link lost: peer closed") in departures
    z_conn.link_lost("peer closed")
    assert sessions.get(X.key) is None and sessions.get(Y.key) is None
    assert relays.unreachable(X.key) == (f"relayed through {Y.key} → {Z.key}:"
                                         " no FEP replica holds a terminal of the route")
    assert relays.unreachable(Z.key) is None


def test_an_own_login_wins_over_the_relay_and_a_removed_route_ends_it() -> None:
    gateway, sessions, relays, departures = _fleet()
    relays.load({X.key: Y.key})
    y_link, y_conn = _login(gateway, Y)
    _, x_conn = _login(gateway, X)
    assert sessions.get(X.key).conn is x_conn and not y_link.closed and y_conn.relayed == {}  # type: ignore[union-attr]
    x_conn.link_lost("peer closed")
    assert sessions.get(X.key).conn is y_conn  # back on its relay
    relays.load({})
    assert sessions.get(X.key) is None and departures[-1] == (X.key, "no longer relayed")
    assert sessions.get(Y.key) is not None and not y_link.closed


def test_a_new_login_of_the_relay_carries_its_riders_over() -> None:
    gateway, sessions, relays, departures = _fleet()
    relays.load({X.key: Y.key})
    old_link, _ = _login(gateway, Y)
    _, new_conn = _login(gateway, Y)
    assert old_link.closed and sessions.get(X.key).conn is new_conn  # type: ignore[union-attr]
    assert departures == []  # neither went offline


def test_the_active_channel_of_a_relayed_terminal_is_relay() -> None:
    config = {"primary_channel": {"kind": "tcp"}, "relay_via": Y.key}
    assert active_channel(config, {"state": "online", "port": f"relay:{Y.key}"}) == "relay"
    assert active_channel(config, {"state": "offline", "port": f"relay:{Y.key}"}) is None
