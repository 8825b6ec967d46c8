"""AFN04 F5, the terminal's message-authentication parameter (终端上行通信消息认证参数), as EMMS sends it.

The standard's F5 is three bytes: the authentication scheme number (BIN, 0 = no authentication,
255 = hardware / ESAM, others software schemes) and the scheme's parameter (BIN, 2 bytes); the
16-byte PW of each downlink frame is then computed from the parameter by the scheme's algorithm,
which is agreed between the utility and the terminal vendor and not public. EMMS therefore uses
the PW itself: scheme :data:`PLAIN_SCHEME`, parameter = the PW's length (16), followed by the 16
PW bytes (docs/protocol.md). The simulator accepts exactly this layout.
"""

from __future__ import annotations

PLAIN_SCHEME = 0x01
PW_LEN = 16
LENGTH = 3 + PW_LEN


def password_of(data: bytes) -> bytes | None:
    """The new PW carried by an F5 unit's data; None when the data is not EMMS's plain-PW layout."""
    if len(data) != LENGTH or data[0] != PLAIN_SCHEME or int.from_bytes(data[1:3], "little") != PW_LEN:
        return None
    return bytes(data[3:])
