"""The shapes of what clients send: identifiers, free text and instants, bounded so that anything accepted
can be stored and compared by PostgreSQL (which refuses NUL in text and has a finite time range).

Every string field of a body and every string parameter of a route uses one of these:

* :data:`Ref` — an identifier (meter, group, region, company …): 1–64 characters, no control characters;
* :data:`Name`, :data:`Reason` — free text: no NUL nor other control characters but tab and line breaks;
* :data:`Instant` — a time between 1970 and 2999 (its UTC form must exist; PostgreSQL and the planner
  do arithmetic on it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from emms_runtime.instants import EARLIEST, LATEST, AnyInstant, Instant, in_range

__all__ = ["EARLIEST", "LATEST", "PLAIN", "PROSE", "AnyInstant", "Code", "Instant", "Name", "Reason", "Ref",
           "TaskId", "in_range"]

PLAIN = r"^[^\x00-\x1f\x7f]*$"
"""No control characters (identifiers, codes, filters)."""
PROSE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""No control characters but tab, line feed and carriage return (names, reasons)."""

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=PLAIN)]
TaskId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PLAIN)]
"""An item code or another short code (checked against its table afterwards)."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PROSE)]
"""A name shown to people."""
Reason = Annotated[str, StringConstraints(max_length=200, pattern=PROSE)]
"""Why something was asked for (free text, may be empty)."""
