"""The permissions of EMMS, the built-in roles that group them, and the trust levels of systems.

A permission names one function (R-4.6.2): ``readings:read``, ``control:send`` … Routes ask for
exactly one with :func:`emms_runtime.auth.require`; tokens carry the caller's permissions, resolved
by the identity service from its roles at sign-in, so a service never asks anyone at request time.

Step-up permissions (control commands, tariffs, user administration, key rotation) also need a
token obtained with a fresh password check (``acr`` = :data:`STEP_UP_ACR`).

A system (API client, R-4.3.3a, R-4.7) has a trust level that bounds what its roles may grant it
(``allowed``), how many rows it may take at once and how many requests a minute it may make.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    READINGS_READ = "readings:read"
    """Validated readings, curves, usage and latest values of meters in scope."""
    READINGS_READ_HELD = "readings:read-held"
    """Readings held by validation (not yet released; R-4.3.1)."""
    AGGREGATES_READ = "aggregates:read"
    """Statistics and aggregates (no single reading)."""
    EVENTS_READ = "events:read"
    MASTERDATA_READ = "masterdata:read"
    MASTERDATA_EDIT = "masterdata:edit"
    MASTERDATA_IMPORT = "masterdata:import"
    """Batch import and sync from source systems (R-4.7)."""
    COLLECTION_READ = "collection:read"
    """Collection tasks, runs, gaps and quality."""
    COLLECTION_RUN = "collection:run"
    """Create collection tasks, manual reads, backfills."""
    CLOCK_APPROVE = "clock:approve"
    VALIDATION_READ = "validation:read"
    VALIDATION_REVIEW = "validation:review"
    VALIDATION_CONFIGURE = "validation:configure"
    TERMINALS_READ = "terminals:read"
    TERMINALS_OPERATE = "terminals:operate"
    CONTROL_SEND = "control:send"
    TARIFFS_CHANGE = "tariffs:change"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    """Users, roles and API clients of the caller's companies (levelled, R-4.6.2)."""
    KEYS_ROTATE = "keys:rotate"
    AUDIT_READ = "audit:read"
    BACKUP_RUN = "backup:run"
    SERVICE_READ = "service:read"
    SERVICE_CONFIGURE = "service:configure"


P = Permission
ALL = frozenset(Permission)

STEP_UP = frozenset({P.CONTROL_SEND, P.TARIFFS_CHANGE, P.USERS_MANAGE, P.KEYS_ROTATE})
"""Permissions whose routes also need a fresh password check."""

STEP_UP_ACR = "urn:emms:acr:step-up"

_READ = frozenset({P.READINGS_READ, P.AGGREGATES_READ, P.EVENTS_READ, P.MASTERDATA_READ, P.COLLECTION_READ,
                   P.VALIDATION_READ, P.TERMINALS_READ, P.SERVICE_READ})

BUILTIN_ROLES: dict[str, frozenset[Permission]] = {
    "admin": ALL,
    "operator": ALL - {P.USERS_MANAGE, P.USERS_READ, P.KEYS_ROTATE, P.AUDIT_READ, P.BACKUP_RUN,
                       P.SERVICE_CONFIGURE},
    "integrator": _READ | {P.MASTERDATA_IMPORT, P.COLLECTION_RUN},
    "viewer": _READ,
    "customer": frozenset({P.READINGS_READ, P.AGGREGATES_READ, P.EVENTS_READ}),
}
"""Roles every installation has; a utility defines more from the same permissions."""


@dataclass(frozen=True, slots=True)
class TrustLevel:
    name: str
    allowed: frozenset[Permission]
    max_rows: int
    per_minute: int
    description: str


TRUST_LEVELS: dict[str, TrustLevel] = {t.name: t for t in (
    TrustLevel("internal", ALL - {P.USERS_MANAGE, P.KEYS_ROTATE, P.BACKUP_RUN}, 100_000, 6000,
               "a system of the utility's own control centre: anything its roles grant, but never administration"),
    TrustLevel("billing", frozenset({P.READINGS_READ, P.AGGREGATES_READ, P.EVENTS_READ, P.MASTERDATA_READ,
                                     P.MASTERDATA_IMPORT, P.COLLECTION_READ, P.COLLECTION_RUN, P.CONTROL_SEND,
                                     P.TARIFFS_CHANGE}),
               50_000, 1200, "billing / marketing: validated readings and master data of its companies"),
    TrustLevel("analysis", frozenset({P.AGGREGATES_READ, P.MASTERDATA_READ}), 10_000, 300,
               "an analysis or reporting system: aggregates only, never single readings"),
    TrustLevel("public", frozenset({P.AGGREGATES_READ}), 1_000, 60,
               "a public portal: aggregates at a low rate"),
)}
"""Trust levels of API clients, from most to least trusted."""

USER_LIMITS: dict[str, tuple[int, int]] = {
    "admin": (100_000, 6000), "operator": (100_000, 3000), "integrator": (50_000, 1200),
    "viewer": (10_000, 600), "customer": (1_000, 120),
}
"""(max rows, requests per minute) of a person's token by role; a token of several roles takes the largest."""
