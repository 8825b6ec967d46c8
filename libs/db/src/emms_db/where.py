"""A small builder for parameterised ``WHERE`` clauses (asyncpg ``$n`` placeholders), used by
every service's repository code.

Conditions are SQL templates with ``{}`` where a value goes; values always travel as
parameters, never spliced into the text.
"""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self, args: list[Any] | None = None) -> None:
        self.args: list[Any] = args if args is not None else []
        self.parts: list[str] = []

    def param(self, value: Any) -> str:
        """Add a parameter; return its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, template: str, *values: Any) -> None:
        """Add a condition; each ``{}`` in ``template`` takes the next value as a parameter."""
        self.parts.append(template.format(*[self.param(v) for v in values]))

    def add_if(self, template: str, value: Any) -> None:
        """``add(template, value)`` when ``value`` is given (not None): an optional filter."""
        if value is not None:
            self.add(template, value)

    def add_any(self, column: str, values: list[Any] | None, cast: str = "text[]") -> None:
        """``column = ANY(values)`` when ``values`` is given (an empty list matches nothing)."""
        if values is not None:
            self.add(f"{column} = ANY({{}}::{cast})", list(values))

    def sql(self) -> str:
        return " AND ".join(f"({p})" for p in self.parts) if self.parts else "TRUE"
