"""Stream framer for Q/GDW 1376.1: TCP chunks in, whole checksum-valid frames out.

The front-end processor calls :meth:`StreamFramer.feed` once per received TCP
chunk for tens of thousands of connections, so the framer is slotted, keeps one
``bytearray`` per connection and searches with ``bytearray.find`` (C speed)
instead of looping over bytes in Python.

Search rule (the one [LM-C] ``emtFindValidPack`` uses, see docs/protocol.md):
find ``68``, require the two length copies equal with a non-zero protocol
identifier, ``68`` at offset 5, total ``(L >> 2) + 8`` within the size bound,
``16`` at the end and the sum-8 checksum over the user data. Anything else
advances one byte, so a false ``68`` in garbage never hides the real frame that
follows it. Decisions depend only on the bytes, never on how the stream was cut
into chunks: any split of the same stream yields the same frames.
"""

from __future__ import annotations

from emms_protocol.checksum import sum8

_START = 0x68
_END = 0x16
_HEADER = 6
_MIN_USER_DATA = 8  # C(1) + A(5) + AFN(1) + SEQ(1)


class StreamFramer:
    """Reassembles 1376.1 frames from a byte stream; never raises.

    Counters (plain attributes, cheap to read for metrics):
    ``dropped_bytes`` — bytes discarded (FE preambles, garbage, broken frames);
    ``frames`` — valid frames returned so far; ``bad_frames`` — candidates
    whose header looked right but whose length bound, end byte or checksum
    failed; ``buffered`` — bytes currently held waiting for the rest of a frame.
    """

    __slots__ = ("_buf", "bad_frames", "dropped_bytes", "frames", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = 16384) -> None:
        self.max_frame_bytes = max(_HEADER + _MIN_USER_DATA + 2, max_frame_bytes)
        self._buf = bytearray()
        self.dropped_bytes = 0
        self.frames = 0
        self.bad_frames = 0

    @property
    def buffered(self) -> int:
        """Bytes currently held (an incomplete frame or a few header bytes)."""
        return len(self._buf)

    def reset(self) -> int:
        """Drop whatever is buffered (e.g. on an idle time-out); returns the count dropped."""
        held = len(self._buf)
        self.dropped_bytes += held
        self._buf.clear()
        return held

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add one chunk; return every frame completed by it, in stream order."""
        buf = self._buf
        buf += data
        out: list[bytes] = []
        n = len(buf)
        pos = 0
        limit = self.max_frame_bytes
        while pos < n:
            start = buf.find(_START, pos)
            if start < 0:
                self.dropped_bytes += n - pos
                pos = n
                break
            if start != pos:
                self.dropped_bytes += start - pos
                pos = start
            if n - pos < _HEADER:
                break  # wait for the rest of the header
            length = buf[pos + 1] | (buf[pos + 2] << 8)
            if (
                length != (buf[pos + 3] | (buf[pos + 4] << 8))
                or not length & 0x03
                or buf[pos + 5] != _START
            ):
                self.dropped_bytes += 1
                pos += 1
                continue
            total = (length >> 2) + 8
            if total > limit or (length >> 2) < _MIN_USER_DATA:
                self.bad_frames += 1
                self.dropped_bytes += 1
                pos += 1
                continue
            if n - pos < total:
                later = _next_whole_frame(buf, pos + 1, n, limit)
                if later < 0:
                    break  # wait for the rest of the frame
                # A whole, valid frame arrived after this header while its announced
                # length is still incomplete: the header was a false start (garbage
                # that looks like one), not a frame to wait for — otherwise a false
                # long length would hold back every later frame (heartbeats included).
                self.bad_frames += 1
                self.dropped_bytes += later - pos
                pos = later
                continue
            end = pos + total
            if buf[end - 1] != _END or sum8(buf, pos + _HEADER, end - 2) != buf[end - 2]:
                self.bad_frames += 1
                self.dropped_bytes += 1
                pos += 1
                continue
            out.append(bytes(buf[pos:end]))
            self.frames += 1
            pos = end
        if pos:
            del buf[:pos]
        return out


def _next_whole_frame(buf: bytearray, start: int, n: int, limit: int) -> int:
    """Offset of the first complete, checksum-valid frame in ``buf[start:n]``, or -1."""
    pos = buf.find(_START, start)
    while 0 <= pos <= n - _HEADER:
        length = buf[pos + 1] | (buf[pos + 2] << 8)
        if length == (buf[pos + 3] | (buf[pos + 4] << 8)) and length & 0x03 and buf[pos + 5] == _START:
            total = (length >> 2) + 8
            end = pos + total
            if ((length >> 2) >= _MIN_USER_DATA and total <= limit and end <= n and buf[end - 1] == _END
                    and sum8(buf, pos + _HEADER, end - 2) == buf[end - 2]):
                return pos
        pos = buf.find(_START, pos + 1)
    return -1
