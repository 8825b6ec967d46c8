"""Key customers (R-4.5.4.2) on both storage modes: chosen by hand (operators, audited) and by rule
(top N by usage over the last days in a region / category), and one answer per customer with its
latest values, usage curve, data quality, working condition and anomalies.

A small fleet is published on the bus as the archive and the validator would (master data, daily
register values, curve values with the supply relay's state, the validator's anomalies); every
figure is compared with the test's own truth function, not with the service's tables.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from service_harness import FreshBearer, area_topics, in_process

from emms_analytics.app import create_app
from emms_analytics.keycustomers import chosen
from emms_analytics.runtime import AnalyticsRuntime
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.events import Anomaly, EventClass
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus
from emms_messages.terminal import SessionState, TerminalSession

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 1)  # register values at local midnight of each day, both included
E, W = "energy.active.import.total", "water.volume"
# customer → (meter, utility, category, region, base daily usage)
FLEET = {"K1": ("KM1", "electricity", "k_e_business", "KR1", 50),
         "K2": ("KM2", "electricity", "k_e_residential", "KR1", 10),
         "K3": ("KM3", "electricity", "k_e_business", "KR2", 30),
         "K4": ("KW4", "water", "k_w_business", "KR1", 2)}
CAPACITY = {"K1": 800.0, "K3": 2000.0}  # contracted kVA in the archive's master data (K2 has none)
ESTIMATED = ("KM1", date(2026, 2, 10))  # stored as an estimate (same value): the intervals on both sides count
GAP = ("KM2", date(2026, 2, 15))  # never collected
FEB = (date(2026, 2, 1), date(2026, 3, 1))
OPERATOR = FreshBearer("op-key", "operator")
ADMIN = FreshBearer("admin-key", "admin")


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def used(customer: str, d: date) -> float:
    """The truth: what the customer's meter used on local day ``d``."""
    return float(FLEET[customer][4] + d.toordinal() % 3)


def register(customer: str, d: date) -> float:
    return 1000.0 + sum(used(customer, x) for x in days(FIRST, d))


def truth(customer: str, start: date, end: date) -> float:
    return sum(used(customer, d) for d in days(start, end))


def change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/k", entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime(2025, 12, 1, tzinfo=UTC), changed_by="test",
                            data=data)


def masterdata() -> list[MasterDataChange]:
    out = [change("company", "KCO", {"id": "KCO", "name": "Key utility"}),
           change("region", "KR", {"id": "KR", "name": "Key city", "parent_id": None}),
           change("region", "KR1", {"id": "KR1", "name": "North", "parent_id": "KR"}),
           change("region", "KR2", {"id": "KR2", "name": "South", "parent_id": "KR"})]
    for cid, (meter, utility, category, region, _) in FLEET.items():
        out += [change("customer", cid, {"id": cid, "name": f"Customer {cid}", "party_id": cid, "utility": utility,
                                         "category": category, "company_id": "KCO", "region_id": region,
                                         "contracted_capacity_kva": CAPACITY.get(cid)}),
                change("metering_point", f"{cid}-P", {"id": f"{cid}-P", "customer_id": cid, "utility": utility}),
                change("meter", meter, {"id": meter, "utility": utility, "multiplier": 1.0, "register_digits": 8}),
                change("meter_installation", f"{cid}-P", {"metering_point_id": f"{cid}-P", "meter_id": meter,
                                                          "valid_from": midnight(FIRST).isoformat(),
                                                          "customer_id": cid, "utility": utility})]
    return out


def value(meter: str, item: str, at: datetime, v: float,
          status: ValidationStatus = ValidationStatus.VALID) -> ValidatedReading:
    return ValidatedReading(meter_id=meter, item=item, data_time=at, value=v, unit="", status=status,
                            validated_at=datetime(2026, 3, 2, tzinfo=UTC))


def readings() -> list[ValidatedReading]:
    out = []
    for cid, (meter, utility, *_) in FLEET.items():
        for d in days(FIRST, LAST + timedelta(days=1)):
            if (meter, d) == GAP:
                continue
            status = ValidationStatus.ESTIMATED if (meter, d) == ESTIMATED else ValidationStatus.VALID
            out.append(value(meter, E if utility == "electricity" else W, midnight(d), register(cid, d), status))
    # the supply relay of K1: closed, then tripped on Feb 20 at 10:00; K4's valve open; K1's active power
    out += [value("KM1", "relay.state", midnight(date(2026, 2, 1)), 1.0),
            value("KM1", "relay.state", midnight(date(2026, 2, 20)) + timedelta(hours=10), 0.0),
            value("KW4", "valve.state", midnight(date(2026, 2, 1)), 1.0),
            value("KM1", "power.active.total", midnight(date(2026, 2, 28)) + timedelta(hours=12), 42.5)]
    return out


def anomalies() -> list[Anomaly]:
    def one(aid: str, meter: str, d: date, severity: EventClass) -> Anomaly:
        return Anomaly(anomaly_id=aid, meter_id=meter, rule="jump", item=E, data_time=midnight(d), severity=severity,
                       values={"delta": 999.0}, detected_at=midnight(d) + timedelta(hours=1))
    return [one("KA1", "KM1", date(2026, 2, 5), EventClass.IMPORTANT),
            one("KA2", "KM1", date(2026, 2, 25), EventClass.NORMAL),
            one("KA3", "KM1", date(2026, 1, 5), EventClass.NORMAL),  # before the period asked for
            one("KA4", "KM3", date(2026, 2, 6), EventClass.NORMAL)]  # another customer's


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the analytics did not reach the expected figures in time")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this module's own (its analytics instance's consumer groups start from their beginning)."""
    return area_topics(kafka_settings, "keycust")


@pytest.fixture(scope="module")
async def service(database_url: str,
                  topics: KafkaSettings) -> AsyncIterator[tuple[AnalyticsRuntime, httpx.AsyncClient]]:
    settings = AnalyticsSettings(
        _env_file=None, environment="test", instance_id=f"analytics-{secrets.token_hex(2)}",
        database=DatabaseSettings(url=database_url), kafka=topics, shutdown_grace_s=5.0, refresh_interval_s=0.3)
    producer = BusProducer(topics, "analytics-key-test")
    await producer.start()
    try:
        async with in_process(create_app(settings), "http://analytics") as (_, ar, http):
            assert isinstance(ar, AnalyticsRuntime)
            await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
            batch = readings()
            await producer.publish_many([ValidatedReadingBatch(batch_id=f"key-{i}", terminal="KT",
                                                               readings=batch[i:i + 300])
                                         for i in range(0, len(batch), 300)], topic="emms.reading.validated.v1")
            await producer.publish_many(anomalies(), topic="emms.anomaly.v1")
            feb = {"from": midnight(FEB[0]).isoformat(), "to": midnight(FEB[1]).isoformat()}

            async def arrived() -> bool:
                got = await http.get("/api/v1/analytics/usage", params={
                    "regions": "KR", "group_by": "customer", "interval": "period", **feb})
                totals = {r["key"]: r["usage"] for r in got.json().get("rows", [])} if got.status_code == 200 else {}
                detail = await http.get("/api/v1/analytics/key-customers/K1", params=feb)
                return (all(abs(totals.get(c, -1) - truth(c, *FEB)) < 1e-6 for c in FLEET)
                        and detail.status_code == 200 and detail.json()["anomalies"]["total"] == 2)
            await eventually(arrived)
            yield ar, http
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def client(service: tuple[AnalyticsRuntime, httpx.AsyncClient]) -> httpx.AsyncClient:
    return service[1]


async def test_key_customers_by_rule_and_by_hand_with_audit(client: httpx.AsyncClient) -> None:
    rule = {"utility": "electricity", "top_n": 2, "period_days": 28, "regions": ["KR"]}
    put = await client.put("/api/v1/analytics/key-customers/rules/top2-kr", json=rule, headers=OPERATOR)
    assert put.status_code == 201, put.text
    refused = await client.put("/api/v1/analytics/key-customers/rules/top2-kr", json=rule)  # the viewer
    assert refused.status_code == 403
    at = datetime(2026, 3, 1, 9, 30, tzinfo=TZ).isoformat()  # the rule reads Feb 1 – Feb 28 (local days)
    listed = await client.get("/api/v1/analytics/key-customers", params={"at": at})
    assert listed.status_code == 200, listed.text
    mine = {c["customer_id"]: c for c in listed.json()["customers"] if c["customer_id"] in FLEET}
    ranked = sorted((c for c in FLEET if FLEET[c][1] == "electricity"), key=lambda c: -truth(c, *FEB))[:2]
    assert set(mine) == set(ranked) == {"K1", "K3"}
    for rank, cid in enumerate(ranked, start=1):
        [why] = mine[cid]["reasons"]
        assert why["source"] == "rule" and why["rule_id"] == "top2-kr" and why["rank"] == rank
        assert why["usage"] == pytest.approx(truth(cid, *FEB))
        assert "top 2 by electricity usage over 28 days in regions KR" in why["reason"]
    # by hand: K2 (not in the rule's top 2), with the operator's reason
    marked = await client.post("/api/v1/analytics/key-customers", json={"customer_id": "K2", "reason": "hospital"},
                               headers=OPERATOR)
    assert marked.status_code == 201, marked.text
    assert marked.json()["marked_by"] == "op-key" and marked.json()["reason"] == "hospital"
    listed = (await client.get("/api/v1/analytics/key-customers", params={"at": at})).json()["customers"]
    k2 = next(c for c in listed if c["customer_id"] == "K2")
    assert k2["sources"] == ["hand"] and k2["reasons"][0]["reason"] == "hospital"
    assert k2["category"] == "k_e_residential"
    # a category rule picks K2 too: it then has both reasons
    put = await client.put("/api/v1/analytics/key-customers/rules/top1-res", headers=OPERATOR, json={
        "utility": "electricity", "top_n": 1, "period_days": 28, "companies": ["KCO"],
        "categories": ["k_e_residential"]})
    assert put.status_code == 201, put.text
    listed = (await client.get("/api/v1/analytics/key-customers", params={"at": at})).json()["customers"]
    k2 = next(c for c in listed if c["customer_id"] == "K2")
    assert k2["sources"] == ["hand", "rule"]
    # unmark: gone from the hand list (the category rule still names it); a second unmark is a 404
    assert (await client.delete("/api/v1/analytics/key-customers/K2")).status_code == 403
    assert (await client.delete("/api/v1/analytics/key-customers/K2", headers=OPERATOR)).status_code == 204
    again = await client.delete("/api/v1/analytics/key-customers/K2", headers=OPERATOR)
    assert again.status_code == 404 and "K2" in again.json()["detail"]
    assert (await client.delete("/api/v1/analytics/key-customers/rules/top1-res", headers=OPERATOR)).status_code == 204
    listed = (await client.get("/api/v1/analytics/key-customers", params={"at": at})).json()["customers"]
    assert "K2" not in {c["customer_id"] for c in listed}
    # every change is audited, newest first, with the actor and the before / after images
    audit = await client.get("/api/v1/analytics/key-customers/audit", params={"entity_id": "K2"}, headers=ADMIN)
    assert audit.status_code == 200, audit.text
    assert [(a["action"], a["actor"]) for a in audit.json()] == [("unmarked", "op-key"), ("marked", "op-key")]
    assert audit.json()[0]["before"]["reason"] == "hospital" and audit.json()[0]["after"] is None
    assert (await client.get("/api/v1/analytics/key-customers/audit", headers=OPERATOR)).status_code == 403


async def test_rule_chosen_customers_are_kept_for_grafana(service: tuple[AnalyticsRuntime, httpx.AsyncClient],
                                                          database_url: str) -> None:
    """The rule's choice as Grafana reads it (reporting view, as a login in ``emms_reporting`` only) equals the
    API's at the same instant and the truth; re-evaluated, a changed rule's rows are replaced; a removed rule
    takes them along."""
    ar, client = service
    rule = {"utility": "electricity", "top_n": 2, "period_days": 28, "regions": ["KR"]}
    assert (await client.put("/api/v1/analytics/key-customers/rules/graf-top2", json=rule,
                             headers=OPERATOR)).status_code == 201
    at = datetime(2026, 3, 1, 9, 30, tzinfo=TZ)  # the rule reads Feb 1 – Feb 28 (local days)
    assert await chosen.refresh(ar, at, rule_id="graf-top2") == 2
    admin = await asyncpg.connect(database_url)
    name = f"grafana_key_{secrets.token_hex(5)}"
    await admin.execute(f"CREATE ROLE {name} LOGIN IN ROLE emms_reporting")
    parts = urlsplit(database_url)
    reader = await asyncpg.connect(urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}")))
    query = ("SELECT rank, customer_id, region_id, usage, period_from, period_to"
             " FROM reporting.analytics_key_customer_by_rule WHERE rule_id = $1 ORDER BY rank")
    try:
        rows = await reader.fetch(query, "graf-top2")
        api = (await client.get("/api/v1/analytics/key-customers", params={"at": at.isoformat()})).json()["customers"]
        by_api = {c["customer_id"]: r for c in api for r in c["reasons"] if r.get("rule_id") == "graf-top2"}
        assert [(r["rank"], r["customer_id"], r["region_id"]) for r in rows] == [(1, "K1", "KR1"), (2, "K3", "KR2")]
        for r in rows:
            assert r["usage"] == pytest.approx(truth(r["customer_id"], *FEB)) == by_api[r["customer_id"]]["usage"]
            assert (r["period_from"], r["period_to"]) == (midnight(FEB[0]), midnight(FEB[1]))
        # the rule narrowed to one region: its rows are replaced, not added to
        narrowed = {**rule, "regions": ["KR2"]}
        assert (await client.put("/api/v1/analytics/key-customers/rules/graf-top2", json=narrowed,
                                 headers=OPERATOR)).status_code == 200
        await chosen.refresh(ar, at, rule_id="graf-top2")
        assert [r["customer_id"] for r in await reader.fetch(query, "graf-top2")] == ["K3"]
        assert (await client.delete("/api/v1/analytics/key-customers/rules/graf-top2",
                                    headers=OPERATOR)).status_code == 204
        assert await reader.fetch(query, "graf-top2") == []
    finally:
        await reader.close()
        await admin.execute(f"DROP OWNED BY {name}")
        await admin.execute(f"DROP ROLE {name}")
        await admin.close()


async def test_bad_key_customer_input_is_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/v1/analytics/key-customers", json={"customer_id": "NOBODY", "reason": "x"},
                                headers=OPERATOR)
    assert unknown.status_code == 404 and "NOBODY" in unknown.json()["detail"]
    no_reason = await client.post("/api/v1/analytics/key-customers", json={"customer_id": "K1", "reason": ""},
                                  headers=OPERATOR)
    assert no_reason.status_code == 422
    region = await client.put("/api/v1/analytics/key-customers/rules/bad", headers=OPERATOR, json={
        "utility": "electricity", "top_n": 3, "period_days": 7, "regions": ["NOWHERE"]})
    assert region.status_code == 404 and "NOWHERE" in region.json()["detail"]
    utility = await client.put("/api/v1/analytics/key-customers/rules/bad", headers=OPERATOR, json={
        "utility": "steam", "top_n": 3, "period_days": 7})
    assert utility.status_code == 422 and "steam" in utility.json()["detail"]
    rules = (await client.get("/api/v1/analytics/key-customers/rules")).json()
    assert "bad" not in {r["rule_id"] for r in rules}  # nothing half-applied
    feb = {"from": midnight(FEB[0]).isoformat(), "to": midnight(FEB[1]).isoformat()}
    missing = await client.get("/api/v1/analytics/key-customers/NOBODY", params=feb)
    assert missing.status_code == 404 and "NOBODY" in missing.json()["detail"]
    inverted = await client.get("/api/v1/analytics/key-customers/K1", params={"from": feb["to"], "to": feb["from"]})
    assert inverted.status_code == 422 and "inverted" in inverted.json()["detail"]
    assert (await client.delete("/api/v1/analytics/key-customers/rules/none", headers=OPERATOR)).status_code == 404


async def test_one_answer_with_values_curve_quality_condition_and_anomalies(client: httpx.AsyncClient) -> None:
    feb = {"from": midnight(FEB[0]).isoformat(), "to": midnight(FEB[1]).isoformat()}
    resp = await client.get("/api/v1/analytics/key-customers/K1", params={**feb, "interval": "day"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["customer"]["customer_id"] == "K1" and body["customer"]["region_id"] == "KR1"
    assert [p["metering_point_id"] for p in body["metering_points"]] == ["K1-P"]
    assert body["metering_points"][0]["meter_id"] == "KM1"
    # real time: the latest value of each item
    latest = {v["item"]: v for v in body["realtime"]}
    assert latest[E]["value"] == pytest.approx(register("K1", LAST)) and latest[E]["data_time"].startswith("2026-03-01")
    assert latest["power.active.total"]["value"] == 42.5
    # the curve: one point per local day of February, each the day's usage
    rows = body["history"]["rows"]
    assert [(r["bucket"][:10], r["usage"]) for r in rows] == [
        (d.isoformat(), pytest.approx(used("K1", d))) for d in days(*FEB)]
    # quality: every daily value collected; the estimate of Feb 10 makes the intervals on both sides estimated
    q = body["quality"]
    assert (q["collected"], q["expected"], q["intervals"], q["estimated"]) == (28, 28, 28, 2)
    assert q["completeness"] == 1.0 and q["estimated_share"] == pytest.approx(2 / 28)
    # working condition: the relay tripped on Feb 20
    [relay] = body["condition"]["states"]
    assert relay["item"] == "relay.state" and relay["value"] == 0 and relay["data_time"] == "2026-02-20T10:00:00+08:00"
    assert body["condition"]["supply_off"] == ["K1-P"]
    # anomalies of K1's meter in February only
    a = body["anomalies"]
    assert a["total"] == 2 and a["by_severity"] == {"important": 1, "normal": 1}
    assert [x["anomaly_id"] for x in a["rows"]] == ["KA2", "KA1"]
    # K2: one daily value never collected
    k2 = (await client.get("/api/v1/analytics/key-customers/K2", params=feb)).json()
    assert (k2["quality"]["collected"], k2["quality"]["expected"]) == (27, 28)
    assert k2["quality"]["completeness"] == pytest.approx(27 / 28) and k2["anomalies"]["total"] == 0
    assert sum(r["usage"] for r in k2["history"]["rows"]) == pytest.approx(truth("K2", *FEB))
    # K4 (water): the valve is open, supply on
    k4 = (await client.get("/api/v1/analytics/key-customers/K4", params=feb)).json()
    assert [s["item"] for s in k4["condition"]["states"]] == ["valve.state"] and k4["condition"]["supply_off"] == []
    assert sum(r["usage"] for r in k4["history"]["rows"]) == pytest.approx(truth("K4", *FEB))


async def test_a_rule_on_contracted_capacity_follows_the_master_data(client: httpx.AsyncClient,
                                                                     topics: KafkaSettings) -> None:
    """Top N by usage among customers contracted for at least ``min_capacity_kva`` (the archive's master data);
    a capacity raised in the archive brings the customer in."""
    at = datetime(2026, 3, 1, 9, 30, tzinfo=TZ).isoformat()
    rule = {"utility": "electricity", "top_n": 2, "period_days": 28, "regions": ["KR"], "min_capacity_kva": 1000}
    put = await client.put("/api/v1/analytics/key-customers/rules/big", json=rule, headers=OPERATOR)
    assert put.status_code == 201, put.text
    assert (await client.put("/api/v1/analytics/key-customers/rules/neg", headers=OPERATOR,
                             json={**rule, "min_capacity_kva": -1})).status_code == 422

    async def chosen() -> dict[str, dict[str, Any]]:
        listed = (await client.get("/api/v1/analytics/key-customers", params={"at": at})).json()["customers"]
        return {c["customer_id"]: r for c in listed for r in c["reasons"] if r.get("rule_id") == "big"}
    try:
        got = await chosen()
        assert set(got) == {"K3"}  # K1 uses more, but is contracted for 800 kVA
        assert got["K3"]["rank"] == 1 and got["K3"]["usage"] == pytest.approx(truth("K3", *FEB))
        assert "contracted capacity ≥ 1000 kVA" in got["K3"]["reason"]
        rules = (await client.get("/api/v1/analytics/key-customers/rules")).json()
        assert next(r for r in rules if r["rule_id"] == "big")["min_capacity_kva"] == 1000
        producer = BusProducer(topics, "analytics-key-capacity")
        await producer.start()
        try:
            raised = change("customer", "K1", {"id": "K1", "contracted_capacity_kva": 1250})
            await producer.publish_many([raised.model_copy(update={"change_id": "customer/K1/capacity",
                                                                   "kind": ChangeKind.UPDATED})],
                                        topic="emms.masterdata.change.v1")
        finally:
            await producer.stop()

        async def k1_in() -> bool:
            return set(await chosen()) == {"K1", "K3"}
        await eventually(k1_in, timeout_s=30)
        got = await chosen()
        assert got["K1"]["rank"] == 1 and got["K3"]["rank"] == 2
    finally:
        assert (await client.delete("/api/v1/analytics/key-customers/rules/big", headers=OPERATOR)).status_code == 204


async def test_the_answer_shows_the_online_state_of_the_customers_terminal(client: httpx.AsyncClient,
                                                                           topics: KafkaSettings) -> None:
    """The terminal a point is read through comes with its installation (the archive's terminal_address, here in
    the 8-hex-digit vendor form), its state from the FEP's session messages: the newest wins, a late older one
    changes nothing."""
    feb = {"from": midnight(FEB[0]).isoformat(), "to": midnight(FEB[1]).isoformat()}
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def session(state: SessionState, minutes: int) -> TerminalSession:
        return TerminalSession(terminal="3701-00042", state=state, fep_instance="fep-1", connection_id=f"c{minutes}",
                               peer="10.0.0.9:4100", since=t0 + timedelta(minutes=minutes),
                               last_seen=t0 + timedelta(minutes=minutes), reason="" if state == "online" else "timeout")

    async def terminals() -> list[dict[str, Any]]:
        resp = await client.get("/api/v1/analytics/key-customers/K1", params=feb)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["condition"]["terminals"])

    producer = BusProducer(topics, "analytics-key-terminal")
    await producer.start()
    try:
        wired = change("meter_installation", "K1-P", {
            "metering_point_id": "K1-P", "meter_id": "KM1", "valid_from": midnight(FIRST).isoformat(),
            "customer_id": "K1", "utility": "electricity", "terminal_address": "3701002A"})
        await producer.publish_many([wired.model_copy(update={"change_id": "meter_installation/K1-P/wired",
                                                              "kind": ChangeKind.UPDATED})],
                                    topic="emms.masterdata.change.v1")

        async def listed() -> bool:
            return [t["terminal"] for t in await terminals()] == ["3701-00042"]
        await eventually(listed, timeout_s=30)
        [unknown] = await terminals()
        assert unknown["state"] is None and unknown["online"] is False  # no session message yet
        await producer.publish_many([session(SessionState.ONLINE, 0)], topic="emms.terminal.session.v1")

        async def online() -> bool:
            return (await terminals())[0]["state"] == "online"
        await eventually(online, timeout_s=30)
        await producer.publish_many([session(SessionState.OFFLINE, 30)], topic="emms.terminal.session.v1")

        async def offline() -> bool:
            return (await terminals())[0]["state"] == "offline"
        await eventually(offline, timeout_s=30)
        await producer.publish_many([session(SessionState.ONLINE, 10)], topic="emms.terminal.session.v1")  # late
        await asyncio.sleep(2.0)
        resp = await client.get("/api/v1/analytics/key-customers/K1", params=feb)
        condition = resp.json()["condition"]
        [term] = condition["terminals"]
        assert term["state"] == "offline" and term["reason"] == "timeout" and term["metering_points"] == ["K1-P"]
        assert condition["terminals_offline"] == ["3701-00042"]
        assert datetime.fromisoformat(term["last_seen"]) == t0 + timedelta(minutes=30)
    finally:
        await producer.stop()
