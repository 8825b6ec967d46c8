"""The caller's data scope in analytics: metering points whose customer's company and region
are inside every restriction of the token (``analytics.point_owner``, kept from master data;
regions include every region below). A point without a known owner is outside every restricted
scope (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass

from emms_db.owner_scope import OwnerScope


@dataclass(frozen=True, slots=True)
class Scope(OwnerScope):
    schema: str = "analytics"
