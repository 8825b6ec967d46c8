"""A rule book's switches and hot parameters, read once per book instead of once per reading.

The per-reading path looks rules up hundreds of thousands of times a second;
this flattens what it needs into plain attributes. Built and cached by the
pipeline for each distinct resolved rule book.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emms_validator.model import RuleBook


@dataclass(slots=True)
class HotParams:
    enabled: frozenset[str]
    completeness_tol: float
    alignment_tol: float
    future_tol: float
    clock_tol: float
    duplicate_eps: float
    rollover_fraction: float
    max_per_hour: float | None
    history_min: int
    stuck_count: int
    zero_min_s: float
    zero_min_expected: float
    valve_min_advance: float
    _book: RuleBook = field(repr=False)
    _limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, book: RuleBook) -> HotParams:
        def p(rule: str, name: str, default: float) -> float:
            s = book.get(rule)
            value = s.params.get(name) if s is not None else None
            return default if value is None else float(value)

        max_per_hour = book["delta_limit"].opt("max_per_hour") if "delta_limit" in book else None
        return cls(
            enabled=frozenset(r for r, s in book.items() if s.enabled),
            completeness_tol=p("completeness", "tolerance_s", 1.0),
            alignment_tol=p("interval_alignment", "tolerance_s", 1.0),
            future_tol=p("future_time", "tolerance_s", 300.0),
            clock_tol=p("clock_tolerance", "meter_tolerance_s", 10.0),
            duplicate_eps=p("duplicate_time", "epsilon", 1e-6),
            rollover_fraction=p("monotonic", "max_rollover_fraction", 0.5),
            max_per_hour=max_per_hour,
            history_min=max(1, int(p("spike", "min_history", 3.0))),
            stuck_count=int(p("stuck_value", "count", 24.0)),
            zero_min_s=p("zero_consumption", "min_zero_s", 86_400.0),
            zero_min_expected=p("zero_consumption", "min_expected", 0.1),
            valve_min_advance=p("valve_closed_flow", "min_advance", 0.01),
            _book=book,
        )

    def limits(self, group: str) -> tuple[float | None, float | None]:
        """``(low, high)`` of the range rule for a role group (``None`` = no limit)."""
        found = self._limits.get(group)
        if found is None:
            setting = self._book.get("range")
            found = (setting.opt(f"{group}_low"), setting.opt(f"{group}_high")) if setting else (None, None)
            self._limits[group] = found
        return found
