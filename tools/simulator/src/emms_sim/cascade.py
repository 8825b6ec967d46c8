"""Cascaded concentrators (Q/GDW 1376.1 级联, configured on the device by AFN04 F37): who answers through whom.

A cascaded terminal X has no uplink of its own: it hangs on the cascade port of another terminal Y.
The master sends frames addressed to X over Y's link; Y forwards them to X and returns X's answers
(frames carrying X's own A1/A2) on its link. In the simulator X therefore runs no session: the session
of the *root* of its chain (the first terminal that is not itself cascaded) answers X's frames from X's
own state, so X's answers and truth are X's. ``--cascade X:Y`` names terminals by fleet index; the
manifest lists each pair (``cascade``), so tests can set the FEP's ``relay_via`` from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emms_sim.fleet import Fleet


@dataclass(frozen=True, slots=True)
class Cascade:
    """``behind``: cascaded terminal index → the index of the terminal it hangs behind."""

    behind: Mapping[int, int]

    @classmethod
    def parse(cls, text: str, concentrators: int) -> Cascade:
        """``"3:2,4:2"`` (X:Y, terminal X cascaded behind terminal Y); ValueError on a bad or looping map."""
        behind: dict[int, int] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            x, sep, y = part.partition(":")
            if not sep or not x.strip().isdigit() or not y.strip().isdigit():
                raise ValueError(f"bad cascade pair {part!r}: use X:Y (terminal indexes)")
            xi, yi = int(x), int(y)
            if not (0 <= xi < concentrators and 0 <= yi < concentrators):
                raise ValueError(f"cascade pair {part!r} names a terminal outside 0..{concentrators - 1}")
            if xi in behind:
                raise ValueError(f"terminal {xi} is cascaded twice")
            behind[xi] = yi
        cascade = cls(behind)
        for index in behind:
            cascade.root(index)  # refuses a loop
        return cascade

    def __bool__(self) -> bool:
        return bool(self.behind)

    def cascaded(self, index: int) -> bool:
        return index in self.behind

    def root(self, index: int) -> int:
        """The terminal whose own link carries ``index``'s frames (``index`` itself when not cascaded)."""
        seen = {index}
        while index in self.behind:
            index = self.behind[index]
            if index in seen:
                raise ValueError(f"the cascade loops through terminal {index}")
            seen.add(index)
        return index

    def riders(self, root: int) -> list[int]:
        """The cascaded terminals whose frames ``root``'s link carries, in index order."""
        return sorted(x for x in self.behind if self.root(x) == root)

    def manifest(self, fleet: Fleet) -> list[dict[str, object]]:
        """One entry per cascaded terminal: its key and index, and those of the terminal it hangs behind."""
        return [{"terminal": fleet.terminal(x).key, "index": x, "via": fleet.terminal(y).key, "via_index": y}
                for x, y in sorted(self.behind.items())]

    def argument(self) -> str:
        return ",".join(f"{x}:{y}" for x, y in sorted(self.behind.items()))
