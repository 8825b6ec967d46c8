"""The caller's data scope over terminals (R-4.6.2).

A terminal belongs to its own record's company and region, and, where that record has no region
(or the FEP has no record yet), to the companies and regions of the customers whose points are
read through it (``fep.terminal_owner``, kept by :mod:`emms_fep.masterdata`). A token's empty
list means "all" of that kind; ``regions`` include every region below them; ``customers`` keep
to the terminals that read those customers' points. A restricted caller sees a terminal only when
one of its owner rows lies inside every restriction of the token: a terminal the FEP knows no
owner of is outside every restricted scope (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_db.connection import Connection
from emms_db.owner_scope import OwnerScope
from emms_db.where import Where


@dataclass(frozen=True, slots=True)
class Scope(OwnerScope):
    schema: str = "fep"

    def restrict_terminals(self, column: str, where: Where) -> None:
        """Keep rows whose terminal (``column``, the session key) is in scope."""
        self.restrict(column, where, view="terminal_owner", key="terminal")

    async def allows_terminal(self, conn: Connection, terminal: str) -> bool:
        return await self.allows(conn, terminal, view="terminal_owner", key="terminal")
