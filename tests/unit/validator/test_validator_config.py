"""Rule configuration layers, settings, master data and device events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from emms_messages.events import DeviceEvent, EventClass
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_validator.config.catalog import RULES
from emms_validator.config.resolve import RuleOverride, RuleResolver, ScopeKind, StoredOverride, UnknownRuleError
from emms_validator.events import apply_event
from emms_validator.items import ItemCatalog
from emms_validator.masterdata import customer_change, meter_change
from emms_validator.model import Action, ItemKind, MeterInfo
from emms_validator.settings import ValidatorSettings
from emms_validator.state import MeterState

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_every_rule_has_a_source_and_finite_defaults() -> None:
    for rule in RULES.values():
        assert rule.source and rule.title
        assert all(v is None or v == v for v in rule.params.values())


def test_layers_from_broad_to_narrow() -> None:
    resolver = RuleResolver(
        {"spike": RuleOverride(params={"high_ratio": 4.0})},
        {"water": {"spike": RuleOverride(params={"k_sigma": 6.0})}},
        [StoredOverride(ScopeKind.METER_TYPE, "DN20", "spike", RuleOverride(action=Action.FLAG)),
         StoredOverride(ScopeKind.CUSTOMER_CATEGORY, "residential", "spike", RuleOverride(params={"floor": 1.0})),
         StoredOverride(ScopeKind.METER, "W1", "spike", RuleOverride(enabled=False))])
    w2 = resolver.for_meter(MeterInfo("W2", "water", "DN20", "", "residential"))["spike"]
    assert w2.enabled and w2.action is Action.FLAG
    assert (w2.p("high_ratio"), w2.p("k_sigma"), w2.p("floor"), w2.p("min_history")) == (4.0, 6.0, 1.0, 3.0)
    assert not resolver.for_meter(MeterInfo("W1", "water", "DN20"))["spike"].enabled
    e1 = resolver.for_meter(MeterInfo("E1", "electricity"))["spike"]
    assert e1.action is Action.HOLD and e1.p("k_sigma") == 4.0 and e1.p("high_ratio") == 4.0


def test_unknown_rules_and_parameters_are_refused() -> None:
    with pytest.raises(UnknownRuleError, match="unknown rule"):
        RuleResolver({"nonsense": RuleOverride(enabled=False)})
    with pytest.raises(UnknownRuleError, match="no parameter"):
        RuleResolver({"spike": RuleOverride(params={"hi_ratio": 2.0})})
    with pytest.raises(ValidationError):
        RuleOverride(params={"floor": float("nan")})


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMMS_VALIDATOR_VEE__UTILITIES",
                       '{"water": {"zero_consumption": {"params": {"min_zero_s": 172800}}}}')
    monkeypatch.setenv("EMMS_VALIDATOR_VEE__ITEMS", '[{"pattern": "F33.*", "kind": "cumulative", "role": "energy"}]')
    settings = ValidatorSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.http.port == 8003
    assert settings.vee.utilities["water"]["zero_consumption"].params == {"min_zero_s": 172800.0}
    catalog = ItemCatalog(settings.vee.item_patterns())
    assert catalog.spec("F33.pos_active").kind is ItemKind.CUMULATIVE
    monkeypatch.setenv("EMMS_VALIDATOR_VEE__RULES", '{"spike": {"params": {"bogus": 1}}}')
    with pytest.raises(ValidationError, match="no parameter"):
        ValidatorSettings(_env_file=None)  # type: ignore[call-arg]


def test_item_catalog_defaults() -> None:
    c = ItemCatalog()
    assert c.spec("energy.active.import.total").kind is ItemKind.CUMULATIVE
    t3 = c.spec("energy.active.import.t3")
    assert (t3.role, t3.tariff_base) == ("tariff", "energy.active.import")
    assert c.spec("temperature.return").role == "temperature_return"
    assert c.spec("power_factor.total").role == "power_factor"
    assert c.spec("power.active.total").role == "power"
    assert c.spec("valve.state").kind is ItemKind.STATE
    assert c.spec("meter.clock").kind is ItemKind.CLOCK
    assert c.spec("something.else").role == "other"
    # the protocol's canonical registry decides the kind; name patterns only the role
    assert c.spec("heat.power").kind is ItemKind.INSTANT and c.spec("heat.power").role == "power"
    assert c.spec("energy.remaining").kind is ItemKind.INSTANT  # prepaid balance falls: not a register
    assert c.spec("battery.low").kind is ItemKind.STATE
    assert (c.spec("water.volume").role, c.spec("volume.heat").role, c.spec("heat.energy").role) == (
        "volume", "volume", "energy")
    assert c.spec("working_hours").kind is ItemKind.CUMULATIVE
    assert c.spec("relay.state").kind is ItemKind.STATE


def _change(kind: ChangeKind, **data: object) -> MasterDataChange:
    return MasterDataChange(change_id="c1", entity="meter", entity_id="M1", kind=kind, changed_at=T,
                            changed_by="archive", data=data)


def test_master_data_of_a_meter() -> None:
    c = meter_change(_change(ChangeKind.CREATED, utility="water", type="DN20", customer="C1", category="residential",
                             register_digits=6, ct_ratio=2, pt_ratio=3))
    assert c.fields == {"utility": "water", "meter_type": "DN20", "customer_id": "C1",
                        "customer_category": "residential", "register_modulus": 1e6, "multiplier": 6.0,
                        "active": True}
    assert meter_change(_change(ChangeKind.UPDATED, multiplier=40)).fields == {"multiplier": 40.0}
    assert meter_change(_change(ChangeKind.REMOVED)).fields == {"active": False}
    r = meter_change(_change(ChangeKind.REPLACED, replaced_at="2026-02-28T04:00:00+00:00", initial_reading=0.4))
    assert r.replaced_at == datetime(2026, 2, 28, 4, tzinfo=UTC) and r.start_value == 0.4
    with pytest.raises(ValueError, match="register width"):
        meter_change(_change(ChangeKind.UPDATED, register_digits=40))
    cust = customer_change(MasterDataChange(change_id="c2", entity="customer", entity_id="C1",
                                            kind=ChangeKind.UPDATED, changed_at=T, changed_by="x",
                                            data={"category": "large", "key_customer": True}))
    assert (cust.category, cust.key) == ("large", True)


def _event(code: str, **detail: object) -> DeviceEvent:
    return DeviceEvent(terminal="0101-00001", meter_id="M1", code=code, event_class=EventClass.NORMAL,
                       occurred_at=T, received_at=T, detail=detail)


def test_device_events_change_the_meter_state() -> None:
    s = MeterState()
    apply_event(_event("valve_closed"), "valve_closed", s, 10)
    assert s.valve_closed_since == T.timestamp()
    apply_event(_event("valve_opened"), "valve_opened", s, 10)
    assert s.valve_closed_since is None
    apply_event(_event("ERC14", state="off"), "power_cycle", s, 10)
    assert s.outage_between(T.timestamp() - 1, T.timestamp() + 1)
    apply_event(_event("meter_replaced", start_value=1.5), "meter_replaced", s, 10)
    assert s.replacements == [(T.timestamp(), 1.5)]
    assert apply_event(_event("ERC12", deviation_s=4.0), "clock_deviation", s, 10) is None
    bare = apply_event(_event("ERC12", pn=3, started=True), "clock_deviation", s, 10)  # as the collector sends it
    assert bare is not None and bare.values["reported_by"] == "terminal"
    assert apply_event(_event("ERC12", pn=3, started=False), "clock_deviation", s, 10) is None
    finding = apply_event(_event("ERC12", deviation_s=-42.0), "clock_deviation", s, 10)
    assert finding is not None and finding.rule == "clock_tolerance" and finding.values["deviation_s"] == -42.0
    assert MeterState.from_json(s.to_json()) == s


def test_key_customer_by_consumption_rule() -> None:
    from vee_harness import Run, pipeline

    from emms_validator.keycustomers import ConsumptionRule, key_by_consumption
    from emms_validator.synthetic import SyntheticMeter, readings

    run = Run(pipeline())
    run.feed_by_time(readings(SyntheticMeter("BIG", "electricity", daily=500.0), T, 30))
    series = {item: s for (m, item), s in run.ctx.series.items() if m == "BIG"}
    info = MeterInfo("BIG", "electricity", customer_id="C9", customer_category="industrial")
    catalog = ItemCatalog()
    rules = [ConsumptionRule("big", 400.0, utility="electricity")]
    found = key_by_consumption(info, series, catalog, rules)
    assert found is not None and found[0] == "C9" and "rule big" in found[1]
    assert key_by_consumption(info, series, catalog, [ConsumptionRule("huge", 900.0)]) is None
    assert key_by_consumption(info, series, catalog, [ConsumptionRule("water", 1.0, utility="water")]) is None
    already = MeterInfo("BIG", "electricity", customer_id="C9", key_customer=True)
    assert key_by_consumption(already, series, catalog, rules) is None
