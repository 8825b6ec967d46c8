"""AFN 01 — reset (downlink, p0, PW present); the terminal answers with AFN 00.

F1 hardware initialisation, F2 data-area initialisation, F3 parameters and data
(factory reset), F4 parameters except master communication, and data. None of
them carries data after DA/DT.
"""

from __future__ import annotations

from emms_protocol.gdw1376.codec import FnCodec, no_data

CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x01, 0, 1): no_data("hardware initialisation"),
    (0x01, 0, 2): no_data("data-area initialisation"),
    (0x01, 0, 3): no_data("factory reset (parameters and data)"),
    (0x01, 0, 4): no_data("parameters (except master comms) and data initialisation"),
}
