"""Plain-JSON view of decoded objects: dataclasses → objects, bytes → hex, times → ISO 8601.

Numbers stay JSON numbers in engineering units (242.7, never "242.7"). The
1376.1 side has its own ``gdw1376.json_view.to_jsonable``; this one covers the
645 / 188 dataclasses and is the fallback for anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any


def to_json(obj: object, *, tag: bool = True) -> Any:
    """``obj`` as JSON-serialisable data; nested dataclasses get a ``"type"`` key when ``tag``."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.value if isinstance(obj.value, int | str) else obj.name
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex().upper()
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__} if tag else {}
        for f in dataclasses.fields(obj):
            out[f.name] = to_json(getattr(obj, f.name))
        return out
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json(v) for v in obj]
    return str(obj)
