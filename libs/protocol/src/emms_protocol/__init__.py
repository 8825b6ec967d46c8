"""Pure protocol codecs for the EMMS master station.

Bytes in, typed values out. No I/O, no logging; malformed input raises
:class:`emms_protocol.errors.ProtocolError` and nothing else.
"""

from emms_protocol.errors import ProtocolError

__all__ = ["ProtocolError"]
