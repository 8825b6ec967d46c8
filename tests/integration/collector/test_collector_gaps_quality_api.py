"""Through HTTP on the real broker and database: the manual back-fill (``POST /api/v1/gaps/backfill``, R-4.2.6)
and the quality figures over a period (``GET /api/v1/quality``, ``GET /api/v1/quality/tasks/{id}``, R-4.2.5),
checked against what the FEP stand-in was told to answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from collector_harness import (
    FakeFleet,
    ReadingWatch,
    Responder,
    Running,
    collector_settings,
    running_collector,
    truncate,
)
from service_harness import wait_until

from emms_bus import KafkaSettings
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository import points as point_sql
from emms_collector.tasks.periods import zone
from emms_messages.readings import ReadingSource
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration
TZ = zone("Asia/Shanghai")
QA, QB, QC, QD = "5301-00001", "5301-00002", "5301-00003", "5301-00004"
TOTAL = "energy.active.import.total"
# QD's points: pn → (port, scheme master data declares, the scheme expected on the point, how it answers:
# "ok" at once, "once" only in the retry, "never" without a value). The expected scheme is written out by hand
# from the rule (declared, else port 1 AC sampling, 2–30 RS-485, 31 narrowband carrier, no port unknown "").
SCHEMES: dict[int, tuple[int | None, str | None, str, str]] = {
    1: (31, None, "plc", "ok"), 2: (31, None, "plc", "never"), 3: (31, "hplc", "hplc", "ok"),
    4: (31, "hplc", "hplc", "once"), 5: (31, "rf", "rf", "never"), 6: (3, None, "rs485", "once"),
    7: (2, "mbus", "mbus", "ok"), 8: (None, None, "", "ok"), 9: (1, None, "ac-sampling", "ok"),
}


def _truth(terminal: str, pn: int, day: date) -> float:
    """What the stand-in concentrator holds for (terminal, pn) on the freeze tagged ``day``."""
    return round(100 * int(terminal[-1]) + pn + day.toordinal() % 1000 / 10, 2)


@pytest.fixture(scope="module")
def fleet() -> FakeFleet:
    f = FakeFleet()
    for t, pns in ((QA, range(1, 5)), (QB, range(1, 4)), (QC, range(1, 3))):
        for pn in pns:
            f.daily[(t, pn)] = lambda d, t=t, pn=pn: _truth(t, pn, d)
    f.daily[(QB, 4)] = lambda d: None  # the terminal answers, without a value for this meter
    f.fail_once.add((QB, 3))  # missing in the first round, there in the retry
    for pn, (_, _, _, answers) in SCHEMES.items():
        f.daily[(QD, pn)] = (lambda d: None) if answers == "never" else (lambda d, pn=pn: _truth(QD, pn, d))
        if answers == "once":
            f.fail_once.add((QD, pn))
    return f


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings, fleet: FakeFleet) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-gq")
    async with running_collector(settings) as running, Responder(kafka_settings, fleet):
        await truncate(running.c.pool)
        async with running.c.pool.acquire() as conn:
            await point_sql.upsert_points(conn, [
                {"meter_id": f"{t}-{pn}", "terminal": t, "pn": pn, "utility": "electricity",
                 "protocol": "dlt645-2007", "region_id": "r-" + t[-1]}
                for t, n in ((QA, 4), (QB, 4), (QC, 2)) for pn in range(1, n + 1)])
            await point_sql.upsert_points(conn, [
                {"meter_id": f"{QD}-{pn}", "terminal": QD, "pn": pn, "utility": "electricity",
                 "protocol": "dlt645-2007", "region_id": "r-4", "port": port, "local_scheme": declared}
                for pn, (port, declared, _, _) in SCHEMES.items()])
        yield running


@pytest.fixture(scope="module")
async def watch(kafka_settings: KafkaSettings) -> AsyncIterator[ReadingWatch]:
    async with ReadingWatch(kafka_settings) as w:
        yield w


def _tag_of(freeze: datetime) -> date:
    """The freeze date whose value stands at ``freeze`` (freeze_at "end": midnight ending the day)."""
    local = freeze.astimezone(TZ).date()
    return next(local - timedelta(days=k) for k in range(3)
                if freeze_instant(local - timedelta(days=k), TZ, freeze_at="end") == freeze)


async def test_a_manual_back_fill_opens_gaps_per_freeze_and_fills_them_with_the_terminals_values(
        collector: Running, watch: ReadingWatch) -> None:
    now = datetime.now(UTC)
    meters = [f"{QC}-1", f"{QC}-2"]
    body = {"meters": [*meters, "ghost"], "items": [TOTAL], "start": (now - timedelta(days=2)).isoformat(),
            "end": (now - timedelta(minutes=1)).isoformat(), "reason": "customer complaint 7"}
    answer = await collector.client.post("/api/v1/gaps/backfill", json=body)
    assert answer.status_code == 202, answer.text
    opened = answer.json()
    freezes = [datetime.fromisoformat(f) for f in opened["freezes"]]
    assert len(freezes) == 2 and all(now - timedelta(days=2) <= f <= now for f in freezes)
    assert opened["gaps"] == 4 and opened["unknown_meters"] == ["ghost"]
    listed = (await collector.client.get("/api/v1/gaps", params={"meter_id": meters[0]})).json()
    assert listed["total"] == 2 and {g["item"] for g in listed["items"]} == {TOTAL}
    assert all("customer complaint 7" in g["reason"] and g["origin"] == "request" for g in listed["items"])

    filled: dict[str, Any] = {}

    async def all_filled() -> bool:
        filled.update((await collector.client.get("/api/v1/gaps", params={"state": "filled"})).json())
        return filled["total"] == 4

    for _ in range(300):  # 30 s: the suite runs three sessions side by side on two cores
        if await all_filled():
            break
        await asyncio.sleep(0.1)
    assert await all_filled(), filled
    assert {(g["meter_id"], datetime.fromisoformat(g["data_time"])) for g in filled["items"]} == {
        (m, f) for m in meters for f in freezes}
    expected = {(m, f): _truth(QC, int(m[-1]), _tag_of(f)) for m in meters for f in freezes}
    await wait_until(lambda: all(any(r.source is ReadingSource.BACKFILL and (r.meter_id, r.data_time) == key
                                     for b in watch.batches for r in b.readings) for key in expected), 30, 0.05)
    got = {(r.meter_id, r.data_time): r.value for b in watch.batches for r in b.readings
           if r.source is ReadingSource.BACKFILL and r.item == TOTAL and r.meter_id in meters}
    assert got == pytest.approx(expected)


async def test_a_manual_back_fill_is_refused_with_reasons(collector: Running) -> None:
    now = datetime.now(UTC)
    future = await collector.client.post("/api/v1/gaps/backfill", json={
        "meters": [f"{QC}-1"], "items": [TOTAL], "start": now.isoformat(),
        "end": (now + timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and "future" in future.json()["detail"]
    nobody = await collector.client.post("/api/v1/gaps/backfill", json={
        "meters": ["ghost"], "items": [TOTAL], "start": (now - timedelta(days=2)).isoformat(),
        "end": now.isoformat()})
    assert nobody.status_code == 404 and "ghost" in nobody.json()["detail"]
    unknown = await collector.client.post("/api/v1/gaps/backfill", json={
        "meters": [f"{QC}-1"], "items": ["no.such.item"], "start": (now - timedelta(days=2)).isoformat(),
        "end": now.isoformat()})
    assert unknown.status_code == 422 and "no.such.item" in unknown.text
    viewer = await collector.client.post("/api/v1/gaps/backfill", json={}, headers={
        "Authorization": "Bearer " + _token("viewer")})
    assert viewer.status_code == 403


def _token(role: str) -> str:
    return issue_token(AuthSettings(), "tester", role)


async def _finished_run(collector: Running, task_id: str, body: dict[str, object]) -> dict[str, Any]:
    started = await collector.client.post(f"/api/v1/tasks/{task_id}/runs", json=body)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    run: dict[str, Any] = {}
    for _ in range(300):
        run = (await collector.client.get(f"/api/v1/runs/{run_id}")).json()
        if run["status"] in ("done", "failed"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {run}")


async def test_quality_over_a_period_sums_the_runs_in_it_by_task_and_by_dimension(collector: Running) -> None:
    created = await collector.client.post("/api/v1/tasks", json={
        "id": "q-daily", "name": "quality", "type": "daily_frozen", "target": {"terminals": [QA, QB]},
        "items": [TOTAL], "period": {"unit": "daily", "at": "00:20"}, "retries": 1, "retry_delay_s": 0.1,
        "backfill_days": 0})
    assert created.status_code == 201, created.text
    # today's run: QA's 4 meters at once, QB-1 and QB-2 at once, QB-3 in the retry, QB-4 never
    today = await _finished_run(collector, "q-daily", {})
    # yesterday's slot re-collected: the same, except QB-3 now answers at once
    yesterday = await _finished_run(collector, "q-daily", {"slot": (datetime.now(UTC) - timedelta(days=1)).isoformat()})
    assert (today["meters"], today["ok_first"], today["ok_retry"]) == (8, 6, 7)
    assert (yesterday["meters"], yesterday["ok_first"], yesterday["ok_retry"]) == (8, 7, 7)
    due_today = datetime.fromisoformat(today["due_at"])
    due_yesterday = datetime.fromisoformat(yesterday["due_at"])

    task = (await collector.client.get("/api/v1/quality/tasks/q-daily", params={"by": "terminal"})).json()
    overall = task["overall"]
    counts = (overall["meters"], overall["ok_first"], overall["ok_after_retries"], overall["ok_final"])
    assert counts == (16, 13, 14, 14)
    assert overall["success_first"] == pytest.approx(13 / 16) and overall["completeness"] == pytest.approx(14 / 16)
    by_terminal = {b["key"]: b for b in task["breakdown"]}
    assert by_terminal[QA]["success_first"] == 1.0 and by_terminal[QA]["meters"] == 8
    assert by_terminal[QB]["success_first"] == pytest.approx(5 / 8)
    assert by_terminal[QB]["success_after_retries"] == pytest.approx(6 / 8)
    assert [(r["run_id"], r["meters"], r["ok_first"]) for r in task["runs"]] == [
        (today["id"], 8, 6), (yesterday["id"], 8, 7)]  # newest first
    (reason,) = task["failure_reasons"]
    assert reason["meters"] == 2 and TOTAL in reason["reason"]  # QB-4, in both runs

    only_today = (await collector.client.get("/api/v1/quality/tasks/q-daily", params={
        "since": (due_today - timedelta(seconds=1)).isoformat()})).json()
    assert [r["run_id"] for r in only_today["runs"]] == [today["id"]]
    assert (only_today["overall"]["meters"], only_today["overall"]["ok_first"]) == (8, 6)
    assert (await collector.client.get("/api/v1/quality/tasks/nope")).status_code == 404

    period = {"since": (due_yesterday - timedelta(seconds=1)).isoformat(),
              "until": (due_today + timedelta(seconds=1)).isoformat()}
    both = (await collector.client.get("/api/v1/quality", params={**period, "by": "region"})).json()
    assert both["overall"]["meters"] == 16 and both["overall"]["success_final"] == pytest.approx(14 / 16)
    assert {b["key"]: (b["meters"], b["ok_final"]) for b in both["breakdown"]} == {"r-1": (8, 8), "r-2": (8, 6)}
    before_today = (await collector.client.get("/api/v1/quality", params={
        "since": period["since"], "until": due_today.isoformat()})).json()["overall"]
    assert (before_today["meters"], before_today["ok_first"], before_today["items_collected"]) == (8, 7, 7)
    empty = (await collector.client.get("/api/v1/quality", params={
        "since": (due_today + timedelta(seconds=1)).isoformat()})).json()["overall"]
    assert empty["meters"] == 0 and empty["success_first"] is None


def _expected_by_scheme() -> dict[str, tuple[int, int, int, int, int]]:
    """(meters, one-time successes, successes after retries, items expected, items collected) per scheme, from how
    each of QD's meters was told to answer — one item per meter."""
    out: dict[str, tuple[int, int, int, int, int]] = {}
    for _, _, scheme, answers in SCHEMES.values():
        meters, first, final, expected, collected = out.get(scheme, (0, 0, 0, 0, 0))
        came = answers != "never"
        out[scheme] = (meters + 1, first + (answers == "ok"), final + came, expected + 1, collected + came)
    return out


def _by_scheme(body: dict[str, Any]) -> dict[str, tuple[int, int, int, int, int]]:
    assert body["by"] == "scheme"
    for b in body["breakdown"]:
        assert b["success_first"] == pytest.approx(b["ok_first"] / b["meters"])
        assert b["success_after_retries"] == pytest.approx(b["ok_after_retries"] / b["meters"])
        assert b["completeness"] == pytest.approx(b["items_collected"] / b["items_expected"])
    return {b["key"]: (b["meters"], b["ok_first"], b["ok_after_retries"], b["items_expected"], b["items_collected"])
            for b in body["breakdown"]}


async def test_quality_by_local_communication_scheme_on_every_route(collector: Running) -> None:
    """R-4.6.7: the success rate per local communication scheme — declared by master data or derived from the
    port — on the run, task and period routes, equal to what QD's meters were told to answer."""
    async with collector.c.pool.acquire() as conn:
        stored = await conn.fetch("SELECT pn, local_scheme FROM collector.point WHERE terminal = $1", QD)
    assert {r["pn"]: r["local_scheme"] or "" for r in stored} == {pn: v[2] for pn, v in SCHEMES.items()}
    created = await collector.client.post("/api/v1/tasks", json={
        "id": "q-scheme", "name": "quality by scheme", "type": "daily_frozen", "target": {"terminals": [QD]},
        "items": [TOTAL], "period": {"unit": "daily", "at": "00:25"}, "retries": 1, "retry_delay_s": 0.1,
        "backfill_days": 0})
    assert created.status_code == 201, created.text
    run = await _finished_run(collector, "q-scheme", {})
    expected = _expected_by_scheme()
    assert expected == {"plc": (2, 1, 1, 2, 1), "hplc": (2, 1, 2, 2, 2), "rf": (1, 0, 0, 1, 0),
                        "rs485": (1, 0, 1, 1, 1), "mbus": (1, 1, 1, 1, 1), "": (1, 1, 1, 1, 1),
                        "ac-sampling": (1, 1, 1, 1, 1)}  # the table above, counted by hand

    of_run = await collector.client.get(f"/api/v1/quality/runs/{run['id']}", params={"by": "scheme"})
    assert of_run.status_code == 200, of_run.text
    assert _by_scheme(of_run.json()) == expected
    of_task = (await collector.client.get("/api/v1/quality/tasks/q-scheme", params={"by": "scheme"})).json()
    assert _by_scheme(of_task) == expected
    due = datetime.fromisoformat(run["due_at"])
    of_period = (await collector.client.get("/api/v1/quality", params={
        "by": "scheme", "since": due.isoformat(), "until": (due + timedelta(milliseconds=1)).isoformat()})).json()
    assert _by_scheme(of_period) == expected
    hplc = next(b for b in of_period["breakdown"] if b["key"] == "hplc")
    assert (hplc["success_first"], hplc["success_after_retries"]) == (0.5, 1.0)
    refused = await collector.client.get("/api/v1/quality", params={"by": "port"})
    assert refused.status_code == 422 and "scheme" in refused.text
