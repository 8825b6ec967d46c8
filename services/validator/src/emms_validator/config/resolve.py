"""Rule settings per meter: catalog defaults, then layers from broad to narrow.

Order (later wins, field by field): the catalog (``VEE-RULES.md`` defaults) →
the service settings (global, then per utility) → stored overrides for the
scopes ``global``, ``utility``, ``meter_type``, ``customer_category``,
``meter``. Each layer may switch a rule on or off, change its action or
severity, or change single parameters; what it leaves out it inherits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, field_validator

from emms_messages.events import EventClass
from emms_validator.config.catalog import RULES
from emms_validator.model import Action, MeterInfo, RuleBook, RuleSetting


class ScopeKind(StrEnum):
    GLOBAL = "global"
    UTILITY = "utility"
    METER_TYPE = "meter_type"
    CUSTOMER_CATEGORY = "customer_category"
    METER = "meter"


SCOPE_ORDER = (ScopeKind.GLOBAL, ScopeKind.UTILITY, ScopeKind.METER_TYPE, ScopeKind.CUSTOMER_CATEGORY,
               ScopeKind.METER)


class RuleOverride(BaseModel):
    """A partial rule setting: only what is given replaces what is inherited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = None
    action: Action | None = None
    severity: EventClass | None = None
    params: dict[str, float | None] = {}

    @field_validator("params")
    @classmethod
    def _finite(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        for name, v in value.items():
            if v is not None and (v != v or v in (float("inf"), float("-inf"))):
                raise ValueError(f"parameter {name!r} must be a finite number or null")
        return value


class UnknownRuleError(ValueError):
    """An override names a rule or parameter the catalog does not have."""


def check_override(rule: str, override: RuleOverride) -> None:
    definition = RULES.get(rule)
    if definition is None:
        raise UnknownRuleError(f"unknown rule {rule!r}; rules are {', '.join(sorted(RULES))}")
    unknown = set(override.params) - set(definition.params)
    if unknown:
        raise UnknownRuleError(f"rule {rule!r} has no parameter(s) {sorted(unknown)}; "
                               f"it has {sorted(definition.params)}")


def _apply(base: RuleSetting, o: RuleOverride) -> RuleSetting:
    return RuleSetting(
        enabled=base.enabled if o.enabled is None else o.enabled,
        action=base.action if o.action is None else o.action,
        severity=base.severity if o.severity is None else o.severity,
        params=MappingProxyType({**base.params, **o.params}) if o.params else base.params,
    )


def defaults() -> dict[str, RuleSetting]:
    return {d.rule: RuleSetting(True, d.action, d.severity, d.params) for d in RULES.values()}


@dataclass(frozen=True, slots=True)
class StoredOverride:
    scope: ScopeKind
    scope_value: str
    rule: str
    override: RuleOverride


class RuleResolver:
    """Resolves and caches the rule book per distinct (utility, type, category, meter) scope."""

    def __init__(self, settings_global: Mapping[str, RuleOverride] | None = None,
                 settings_utilities: Mapping[str, Mapping[str, RuleOverride]] | None = None,
                 stored: Iterable[StoredOverride] = ()) -> None:
        for layer in [settings_global or {}, *(settings_utilities or {}).values()]:
            for rule, o in layer.items():
                check_override(rule, o)
        self._global = dict(settings_global or {})
        self._utilities = {u: dict(v) for u, v in (settings_utilities or {}).items()}
        self._cache: dict[tuple[str, str, str, str], RuleBook] = {}
        self._stored: dict[tuple[ScopeKind, str], dict[str, RuleOverride]] = {}
        self.replace_stored(stored)

    def replace_stored(self, stored: Iterable[StoredOverride]) -> None:
        table: dict[tuple[ScopeKind, str], dict[str, RuleOverride]] = {}
        for s in stored:
            table.setdefault((s.scope, s.scope_value), {})[s.rule] = s.override
        self._stored = table
        self._cache.clear()

    def for_meter(self, info: MeterInfo) -> RuleBook:
        key = (info.utility, info.meter_type, info.customer_category, info.meter_id)
        book = self._cache.get(key)
        if book is None:
            book = self._resolve(info)
            if not self._stored.get((ScopeKind.METER, info.meter_id)):
                self._cache[key] = book
        return book

    def _resolve(self, info: MeterInfo) -> RuleBook:
        book = defaults()
        layers: list[Mapping[str, RuleOverride]] = [self._global, self._utilities.get(info.utility, {})]
        values = {ScopeKind.GLOBAL: "*", ScopeKind.UTILITY: info.utility, ScopeKind.METER_TYPE: info.meter_type,
                  ScopeKind.CUSTOMER_CATEGORY: info.customer_category, ScopeKind.METER: info.meter_id}
        layers += [self._stored.get((kind, values[kind]), {}) for kind in SCOPE_ORDER]
        for layer in layers:
            for rule, override in layer.items():
                if rule in book:
                    book[rule] = _apply(book[rule], override)
        return MappingProxyType(book)
