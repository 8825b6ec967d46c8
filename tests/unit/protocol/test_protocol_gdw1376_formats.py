"""Appendix-A formats against the real-frame checks of the notes; EE / FF filler; refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, Options
from emms_protocol.gdw1376 import formats as f

OPTS = Options()


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_values_seen_in_real_frames() -> None:
    assert f.dec_a1(_h("49 48 11 15 52 15"), 0, OPTS) == datetime(2015, 12, 15, 11, 48, 49, tzinfo=DEVICE_TZ)
    assert f.enc_a1(datetime(2015, 12, 15, 11, 48, 49, tzinfo=DEVICE_TZ), OPTS) == _h("49 48 11 15 52 15")
    assert f.dec_a7(_h("27 24"), 0, OPTS) == 242.7
    assert f.dec_a5(_h("00 10"), 0, OPTS) == 100.0
    assert f.dec_a14(_h("00 01 00 00 00"), 0, OPTS) == 0.01
    assert f.dec_a15(_h("18 16 28 08 18"), 0, OPTS) == datetime(2018, 8, 28, 16, 18, tzinfo=DEVICE_TZ)
    assert f.dec_a20(_h("27 08 18"), 0, OPTS) == date(2018, 8, 27)
    assert f.dec_a21(_h("07 18"), 0, OPTS) == date(2018, 7, 1)


def test_signed_formats() -> None:
    assert f.dec_a5(_h("05 81"), 0, OPTS) == -10.5
    assert f.dec_a9(_h("56 34 92"), 0, OPTS) == -12.3456
    assert f.dec_a25(_h("45 23 81"), 0, OPTS) == -12.345
    assert f.enc_a25(-12.345, OPTS) == _h("45 23 81")
    assert f.enc_a9(79.9999, OPTS) == _h("99 99 79")
    with pytest.raises(ProtocolError):
        f.enc_a9(80.0, OPTS)  # the top byte keeps D7 for the sign


def test_filler_means_absent() -> None:
    assert f.dec_a14(b"\xee" * 5, 0, OPTS) is None
    assert f.dec_a15(b"\xee" * 5, 0, OPTS) is None
    assert f.dec_a1(b"\xee" * 6, 0, OPTS) is None
    assert f.dec_a5(b"\xff\xff", 0, OPTS) is None
    with pytest.raises(ProtocolError):
        f.dec_a5(b"\xff\xff", 0, Options(ff_is_none=False))
    assert f.enc_a14(None, OPTS) == b"\xee" * 5


def test_bad_bcd_and_bad_dates_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError) as err:
        f.dec_a14(_h("00 0A 00 00 00"), 0, OPTS)
    assert err.value.kind == "bcd" and err.value.offset == 1
    with pytest.raises(ProtocolError):
        f.dec_a15(_h("00 00 31 02 18"), 0, OPTS)  # 31 February
    with pytest.raises(ProtocolError):
        f.dec_a21(_h("13 18"), 0, OPTS)
    with pytest.raises(ProtocolError):
        f.enc_a7(-1.0, OPTS)
    with pytest.raises(ProtocolError):
        f.enc_a14("12", OPTS)
    with pytest.raises(ProtocolError):
        f.enc_a15(datetime(2100, 1, 1, tzinfo=DEVICE_TZ), OPTS)


def test_times_are_written_in_the_terminal_zone() -> None:
    utc = datetime(2024, 1, 1, 16, 30, tzinfo=UTC)
    assert f.enc_a15(utc, OPTS) == _h("30 00 02 01 24")  # 00:30 on 2 January in UTC+8
    other = Options(tz=timezone(timedelta(hours=0)))
    assert f.dec_a15(_h("30 00 02 01 24"), 0, other) == datetime(2024, 1, 2, 0, 30, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=6, max_size=6))
def test_any_bytes_decode_or_raise_protocol_error(raw: bytes) -> None:
    for dec in (f.dec_a1, f.dec_a5, f.dec_a7, f.dec_a9, f.dec_a11, f.dec_a14, f.dec_a15, f.dec_a20, f.dec_a21,
                f.dec_a25, f.dec_a12):
        try:
            dec(raw, 0, OPTS)
        except ProtocolError:
            pass
