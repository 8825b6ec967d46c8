"""The package's single error type."""

from __future__ import annotations


class ProtocolError(ValueError):
    """Raised for any malformed, truncated or unsupported input.

    ``kind`` is a short machine-readable reason (``"short"``, ``"checksum"``,
    ``"start"``, ``"end"``, ``"length"``, ``"value"``, ``"unsupported"`` ...),
    ``offset`` the byte offset in the input where the problem was found (or -1).
    """

    retriable = False

    def __init__(self, kind: str, offset: int = -1, detail: str = "") -> None:
        self.kind = kind
        self.offset = offset
        self.detail = detail
        where = f" at offset {offset}" if offset >= 0 else ""
        super().__init__(f"{kind}{where}: {detail}" if detail else f"{kind}{where}")
