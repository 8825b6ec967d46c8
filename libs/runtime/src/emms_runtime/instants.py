"""Times the services accept from callers: within [1970, 3000), so that every one survives PostgreSQL (a
finite time range; the planner does arithmetic on them) and other services' APIs unchanged (a year-1
instant came back without its zone)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def in_range(value: datetime) -> datetime:
    """``value`` if it lies in [1970, 3000) (a naive time is taken as UTC); else ValueError."""
    try:
        moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"the time must lie between {EARLIEST.year} and {LATEST.year - 1}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(in_range)]
"""A time with its zone, in range (bodies)."""
AnyInstant = Annotated[datetime, AfterValidator(in_range)]
"""A time, with or without its zone (query filters, as they always were), in range."""
