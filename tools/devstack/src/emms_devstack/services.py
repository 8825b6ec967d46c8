"""The services of the dev stack: names, env prefixes, default ports, migration directories (in start order)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServiceDef:
    short: str
    prefix: str
    port: int

    @property
    def module(self) -> str:
        return f"emms_{self.short}"

    def migrations(self) -> Path:
        package = importlib.import_module(self.module)
        return Path(package.__file__ or ".").parent / "migrations"


SERVICES = (
    ServiceDef("identity", "IDENTITY", 8007),  # first: it signs the tokens every other service verifies
    ServiceDef("archive", "ARCHIVE", 8006),
    ServiceDef("fep", "FEP", 8001),
    ServiceDef("collector", "COLLECTOR", 8002),
    ServiceDef("validator", "VALIDATOR", 8003),
    ServiceDef("control", "CONTROL", 8004),
    ServiceDef("analytics", "ANALYTICS", 8005),
    ServiceDef("reports", "REPORTS", 8009),  # after analytics and the archive: its data sets are their APIs
    ServiceDef("interface", "INTERFACE", 8010),  # after the owners whose APIs carry its jobs
    ServiceDef("operations", "OPERATIONS", 8008),  # after the others: it polls their /readyz
)
