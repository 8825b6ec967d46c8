"""The shapes of what clients send: identifiers, free text and instants, bounded so that anything accepted
can be stored and compared by PostgreSQL (which refuses NUL in text and has a finite time range).

Every string field of a body and every string parameter of a route uses one of these:

* :data:`Ref` — an identifier (meter, group, region, company …): 1–64 characters, no control characters;
* :data:`Name`, :data:`Reason` — free text: no NUL nor other control characters but tab and line breaks;
* :data:`Instant` — a time between 1970 and 2999 (its UTC form must exist; PostgreSQL and the planner
  do arithmetic on it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints

PLAIN = r"^[^\x00-\x1f\x7f]*$"
"""No control characters (identifiers, codes, filters)."""
PROSE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""No control characters but tab, line feed and carriage return (names, reasons)."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=PLAIN)]
TaskId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PLAIN)]
"""An item code or another short code (checked against its table afterwards)."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PROSE)]
"""A name shown to people."""
Reason = Annotated[str, StringConstraints(max_length=200, pattern=PROSE)]
"""Why something was asked for (free text, may be empty)."""


def in_range(value: datetime) -> datetime:
    """``value`` if it lies in [1970, 3000) (a naive time is taken as UTC); else ValueError."""
    try:
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"the time must lie between {EARLIEST.year} and {LATEST.year - 1}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(in_range)]
"""A time with its zone, in range (bodies)."""
AnyInstant = Annotated[datetime, AfterValidator(in_range)]
"""A time, with or without its zone (query filters, as they always were), in range."""
