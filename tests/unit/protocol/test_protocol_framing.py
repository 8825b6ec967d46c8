"""Stream framer: any chunking of valid frames and noise yields the same frames; it never raises."""

from __future__ import annotations

import itertools
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, TimeLabel, encode_frame
from emms_protocol.gdw1376 import builders as b

LOGIN = bytes.fromhex("68 32 00 32 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16")
HEARTBEAT = bytes.fromhex("68 32 00 32 00 68 C9 71 01 22 08 00 02 79 00 00 04 00 E4 16")
F129 = bytes.fromhex(
    "68 C6 00 C6 00 68 88 71 01 22 08 02 0C A2 01 01 01 10 18 16 28 08 18 04 00 01 00 00 00 EE EE EE "
    "EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE 02 39 19 16 28 00 8C 16"
)
FORWARD = bytes.fromhex(
    "68 E2 00 E2 00 68 4B 00 02 34 12 04 10 E0 00 00 01 00 1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 "
    "11 04 33 33 34 33 7B 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 13 51 23 21 05 A1 16"
)
VALID = [LOGIN, HEARTBEAT, F129, FORWARD]


def _feed_all(framer: StreamFramer, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    edges = [0, *points, len(stream)]
    return [stream[a:z] for a, z in itertools.pairwise(edges)]


def test_frames_with_preamble_and_garbage() -> None:
    framer = StreamFramer()
    stream = b"\xfe\xfe\xfe\xfe" + LOGIN + b"\x00\x68\x01garbage" + HEARTBEAT + b"\xfe\xfe" + F129
    assert framer.feed(stream) == [LOGIN, HEARTBEAT, F129]
    assert framer.frames == 3
    assert framer.buffered == 0
    assert framer.dropped_bytes == 4 + 10 + 2


def test_byte_by_byte_and_partial_frames_are_held() -> None:
    framer = StreamFramer()
    got = [f for byte in F129 for f in framer.feed(bytes((byte,)))]
    assert got == [F129]
    assert framer.feed(LOGIN[:7]) == []
    assert framer.buffered == 7
    assert framer.feed(LOGIN[7:]) == [LOGIN]


def test_false_start_resynchronises() -> None:
    # a header-shaped false start whose length covers the real frame: rejected once the end byte is seen
    false_start = bytes.fromhex("68 32 00 32 00 68 C9")
    framer = StreamFramer()
    assert framer.feed(false_start + LOGIN + HEARTBEAT) == [LOGIN, HEARTBEAT]
    assert framer.bad_frames >= 1
    assert framer.dropped_bytes == len(false_start)


def test_corrupted_frame_is_counted_and_skipped() -> None:
    broken = bytearray(HEARTBEAT)
    broken[-2] ^= 0xFF
    framer = StreamFramer()
    assert framer.feed(bytes(broken) + LOGIN) == [LOGIN]
    assert framer.bad_frames == 1
    assert framer.dropped_bytes == len(broken)


def test_oversized_length_is_bounded() -> None:
    framer = StreamFramer(max_frame_bytes=40)
    assert framer.feed(F129 + LOGIN) == [LOGIN]
    assert framer.bad_frames == 1
    big = StreamFramer(max_frame_bytes=10**6)
    assert big.feed(F129) == [F129]


def test_pure_garbage_is_not_held() -> None:
    framer = StreamFramer()
    assert framer.feed(bytes(range(0x69, 0x100)) * 4) == []
    assert framer.buffered == 0
    assert framer.dropped_bytes == (0x100 - 0x69) * 4
    assert framer.reset() == 0


def test_reset_drops_a_partial_frame() -> None:
    framer = StreamFramer()
    framer.feed(F129[:30])
    assert framer.reset() == 30
    assert framer.buffered == 0 and framer.dropped_bytes == 30
    assert framer.feed(LOGIN) == [LOGIN]


def test_builder_frames_pass_through() -> None:
    address = Address(0x3701, 12)
    tp = TimeLabel(1, datetime(2024, 5, 6, 7, 8, 9, tzinfo=DEVICE_TZ), 2)
    frames = [
        encode_frame(b.login(address, 1)),
        encode_frame(b.heartbeat(address, 2, datetime(2024, 5, 6, 7, 8, 9, tzinfo=DEVICE_TZ))),
        encode_frame(b.request(address, 0x0C, [DataUnit(1, 129, None)], 3, tp=tp)),
    ]
    assert StreamFramer().feed(b"".join(frames)) == frames


noise = st.binary(max_size=40).filter(lambda n: 0x68 not in n)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(noise, st.sampled_from(VALID)), max_size=6), noise,
       st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_yields_the_frames(parts: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]) -> None:
    stream = b"".join(n + f for n, f in parts) + tail
    framer = StreamFramer()
    assert _feed_all(framer, _split(stream, cuts)) == [f for _, f in parts]
    assert framer.dropped_bytes == sum(len(n) for n, _ in parts) + len(tail)
    assert framer.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=30), st.sampled_from(VALID)), max_size=8),
       st.lists(st.integers(0, 10_000), max_size=12), st.integers(16, 400))
def test_arbitrary_noise_chunking_is_invariant_and_never_raises(pieces: list[bytes], cuts: list[int],
                                                                limit: int) -> None:
    stream = b"".join(pieces)
    whole = StreamFramer(limit)
    expected = whole.feed(stream)
    chunked = StreamFramer(limit)
    assert _feed_all(chunked, _split(stream, cuts)) == expected
    assert chunked.dropped_bytes + chunked.buffered + sum(map(len, expected)) == len(stream)
    assert chunked.bad_frames == whole.bad_frames


def test_a_false_long_length_does_not_hold_back_later_frames() -> None:
    # garbage shaped like a header announcing 4,000 bytes, then a terminal's heartbeats in their own chunks:
    # each heartbeat comes out at once (a terminal must not time out behind a false length)
    length = ((4000 - 8) << 2) | 0x02
    false_header = bytes([0x68, length & 0xFF, length >> 8, length & 0xFF, length >> 8, 0x68, 0xC9, 0x00])
    framer = StreamFramer()
    assert framer.feed(false_header) == []
    assert framer.feed(HEARTBEAT) == [HEARTBEAT]
    assert framer.feed(LOGIN) == [LOGIN]
    assert framer.bad_frames == 1 and framer.dropped_bytes == len(false_header) and framer.buffered == 0


def test_a_frame_split_in_many_chunks_is_still_awaited() -> None:
    framer = StreamFramer()
    assert _feed_all(framer, [FORWARD[i:i + 7] for i in range(0, len(FORWARD), 7)]) == [FORWARD]
    assert framer.bad_frames == 0
