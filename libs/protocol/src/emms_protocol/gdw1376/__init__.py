"""Q/GDW 1376.1-2013: frames, data units, appendix-A formats, builders.

Typical use::

    frame = decode_frame(raw)               # envelope only (fast)
    for unit in decode_units(frame):        # data units on demand
        ...
"""

from emms_protocol.gdw1376.address import Address
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, Options
from emms_protocol.gdw1376.control import Control
from emms_protocol.gdw1376.frame import AFN, Frame, decode_frame, encode_frame
from emms_protocol.gdw1376.seq import DEVICE_TZ, Seq, TimeLabel
from emms_protocol.gdw1376.units import DataUnit, RawData, decode_units, encode_units

__all__ = [
    "AFN",
    "DEFAULT_OPTIONS",
    "DEVICE_TZ",
    "Address",
    "Control",
    "DataUnit",
    "Frame",
    "Options",
    "RawData",
    "Seq",
    "TimeLabel",
    "decode_frame",
    "decode_units",
    "encode_frame",
    "encode_units",
]
