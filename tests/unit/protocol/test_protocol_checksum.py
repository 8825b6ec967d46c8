"""The one checksum of the three protocols equals the plain sum modulo 256, on any bytes and range."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from emms_protocol.checksum import sum8


@given(st.binary(max_size=2000), st.data())
def test_sum8_is_the_sum_of_the_range_modulo_256(data: bytes, draw: st.DataObject) -> None:
    start = draw.draw(st.integers(0, len(data)))
    end = draw.draw(st.integers(start, len(data)))
    assert sum8(data, start, end) == sum(data[start:end]) & 0xFF
    assert sum8(data) == sum(data) & 0xFF
    assert sum8(memoryview(data)[start:end]) == sum(data[start:end]) & 0xFF
