"""The control service's tariff and account API on the real database: refusals with reasons, step-up,
versions that never change the past, idempotent payments, refunds within what was paid, the
insert-only ledger, settlement on close, and the company scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from control_harness import DAY, PRICES, Control, token, uid

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


async def test_a_day_table_with_a_hole_is_refused_naming_the_interval(control: Control) -> None:
    holes = [e for e in DAY if e["start"] != "12:00"]
    resp = await control.client.post("/api/v1/tariffs", headers=token(), json={
        "tariff_id": uid("T"), "utility": "electricity", "name": "x",
        "version": {"effective_from": "2026-01-01T00:00:00+08:00", "day_table": holes, "prices": PRICES}})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "version 1: day table: gap in the day table: 12:00–19:00 is not covered"
    overlap = [*DAY, {"start": "06:00", "end": "08:00", "period": "peak"}]
    resp = await control.client.post("/api/v1/tariffs", headers=token(), json={
        "tariff_id": uid("T"), "utility": "electricity", "name": "x",
        "version": {"effective_from": "2026-01-01T00:00:00+08:00", "day_table": overlap, "prices": PRICES}})
    assert resp.status_code == 422 and "overlap in the day table: 06:00–07:00" in resp.json()["detail"]


async def test_tariff_changes_need_the_permission_and_a_step_up(control: Control) -> None:
    body = {"tariff_id": uid("T"), "utility": "electricity", "name": "x",
            "version": {"effective_from": "2026-01-01T00:00:00+08:00", "day_table": DAY, "prices": PRICES}}
    assert (await control.client.post("/api/v1/tariffs", headers=token("viewer"), json=body)).status_code == 403
    resp = await control.client.post("/api/v1/tariffs", headers=token(step_up=False), json=body)
    assert resp.status_code == 403 and "step-up" in resp.text
    assert (await control.client.post("/api/v1/tariffs", headers=token(), json=body)).status_code == 201
    assert (await control.client.post("/api/v1/tariffs", headers=token(), json=body)).status_code == 409
    listed = await control.client.get("/api/v1/tariffs", params={"utility": "electricity"}, headers=token("viewer"))
    assert body["tariff_id"] in {t["tariff_id"] for t in listed.json()["items"]}


async def test_a_new_version_only_takes_effect_in_the_future_and_the_old_prices_stay_answerable(
        control: Control, db: asyncpg.Connection) -> None:
    tariff_id = await control.tariff()
    past = {"effective_from": "2026-02-01T00:00:00+08:00", "day_table": DAY, "prices": PRICES}
    resp = await control.client.post(f"/api/v1/tariffs/{tariff_id}/versions", headers=token(), json=past)
    assert resp.status_code == 422 and "not in the future" in resp.text
    future = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    dearer = {"e_residential": dict.fromkeys(("sharp", "peak", "flat", "valley"), "2.0")}
    resp = await control.client.post(f"/api/v1/tariffs/{tariff_id}/versions", headers=token(), json={
        "effective_from": future.isoformat(), "day_table": [{"start": "00:00", "end": "24:00", "period": "flat"}],
        "prices": dearer, "note": "2.0 flat"})
    assert resp.status_code == 201, resp.text
    versions = resp.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["definition"]["prices"] == {"e_residential": {"sharp": "1.0", "peak": "0.8", "flat": "0.6",
                                                                     "valley": "0.3"}}
    at = {"category": "e_residential"}
    old = await control.client.get(f"/api/v1/tariffs/{tariff_id}/price", headers=token("viewer"),
                                   params={**at, "at": "2026-03-01T20:00:00+08:00"})
    assert old.json() | {"at": None} == old.json() | {"at": None, "version": 1, "period": "sharp", "price": 1.0}
    new = await control.client.get(f"/api/v1/tariffs/{tariff_id}/price", headers=token("viewer"),
                                   params={**at, "at": (future + timedelta(hours=1)).isoformat()})
    assert (new.json()["version"], new.json()["price"]) == (2, 2.0)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("UPDATE control.tariff_version SET definition = '{}' WHERE tariff_id = $1", tariff_id)


async def test_payments_are_idempotent_by_payment_id_and_refunds_never_exceed_what_was_paid(
        control: Control) -> None:
    account = await control.account(await control.tariff(), uid("M"))
    url = f"/api/v1/accounts/{account['account_id']}"
    pay = {"payment_id": uid("P"), "amount": "100.00", "method": "online"}
    first = await control.client.post(f"{url}/payments", headers=token(), json=pay)
    again = await control.client.post(f"{url}/payments", headers=token(), json=pay)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["payment_id"] == again.json()["payment_id"]
    other = await control.client.post(f"{url}/payments", headers=token(), json={**pay, "amount": "90.00"})
    assert other.status_code == 409 and "recorded already with amount 100.00" in other.text
    for bad in ({**pay, "amount": "-5"}, {**pay, "amount": "0"}, {**pay, "amount": "1.001"}):
        assert (await control.client.post(f"{url}/payments", headers=token(), json=bad)).status_code == 422
    assert (await control.client.get(url, headers=token("viewer"))).json()["balance"] == 100.0

    refund = {"refund_id": uid("R"), "amount": "30.00", "reason": "overpaid"}
    refund_url = f"{url}/payments/{pay['payment_id']}/refunds"
    assert (await control.client.post(refund_url, headers=token(), json=refund)).status_code == 201
    assert (await control.client.post(refund_url, headers=token(), json=refund)).status_code == 200
    too_much = await control.client.post(refund_url, headers=token(), json={**refund, "refund_id": uid("R"),
                                                                            "amount": "70.01"})
    assert too_much.status_code == 409 and "exceeds what is left of payment" in too_much.text
    ledger = (await control.client.get(f"{url}/ledger", headers=token("viewer"))).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [
        ("payment", 100.0, 100.0), ("refund", -30.0, 70.0)]


async def test_the_ledger_and_payments_are_insert_only_in_the_database(control: Control,
                                                                        db: asyncpg.Connection) -> None:
    account = await control.account(await control.tariff(), uid("M"))
    url = f"/api/v1/accounts/{account['account_id']}/payments"
    assert (await control.client.post(url, headers=token(), json={"payment_id": uid("P"), "amount": "5"})
            ).status_code == 201
    for table in ("ledger", "payment"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
            await db.execute(f"UPDATE control.{table} SET amount = 1000 WHERE account_id = $1",
                             account["account_id"])
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
            await db.execute(f"DELETE FROM control.{table} WHERE account_id = $1", account["account_id"])
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db.execute("TRUNCATE control.ledger CASCADE")
    assert await db.fetchval("SELECT sum(amount) FROM control.ledger WHERE account_id = $1",
                             account["account_id"]) == 5


async def test_closing_settles_the_balance_and_releases_the_meters(control: Control) -> None:
    tariff_id, meter = await control.tariff(), uid("M")
    account = await control.account(tariff_id, meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    await control.client.post(f"{url}/payments", headers=token(), json={"payment_id": uid("P"), "amount": "42.50"})
    taken = await control.client.post("/api/v1/accounts", headers=token(), json={
        "customer_id": uid("C"), "company_id": "CO-A", "utility": "electricity", "category": "e_residential",
        "tariff_id": tariff_id, "meters": [{"meter_id": meter}]})
    assert taken.status_code == 409 and meter in taken.text
    closed = await control.client.post(f"{url}/close", headers=token(), json={"reason": "moved out"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["settlement"]["outcome"] == "payout" and closed.json()["settlement"]["amount"] == 42.5
    assert closed.json()["balance"] == 0 and closed.json()["status"] == "closed"
    assert (await control.client.post(f"{url}/close", headers=token(), json={"reason": "again"})).status_code == 409
    late = await control.client.post(f"{url}/payments", headers=token(), json={"payment_id": uid("P"), "amount": "1"})
    assert late.status_code == 409 and "closed" in late.text
    ledger = (await control.client.get(f"{url}/ledger", headers=token("viewer"))).json()
    assert ledger[-1]["kind"] == "settlement" and ledger[-1]["amount"] == -42.5 and ledger[-1]["balance_after"] == 0
    assert (await control.account(tariff_id, meter))["meters"][0]["meter_id"] == meter


async def test_a_caller_of_another_company_never_sees_or_changes_the_account(control: Control) -> None:
    account = await control.account(await control.tariff(), uid("M"), company="CO-A")
    url = f"/api/v1/accounts/{account['account_id']}"
    b_reader, b_editor = token("viewer", companies=("CO-B",)), token(companies=("CO-B",))
    listed = await control.client.get("/api/v1/accounts", headers=b_reader)
    assert listed.status_code == 200 and account["account_id"] not in listed.text
    for path in ("", "/payments", "/ledger", "/charges"):
        resp = await control.client.get(f"{url}{path}", headers=b_reader)
        assert resp.status_code == 404, (path, resp.text)
    pay = await control.client.post(f"{url}/payments", headers=b_editor, json={"payment_id": uid("P"), "amount": "1"})
    assert pay.status_code == 404
    close = await control.client.post(f"{url}/close", headers=b_editor, json={"reason": "not mine"})
    assert close.status_code == 404
    opened = await control.client.post("/api/v1/accounts", headers=b_editor, json={
        "customer_id": uid("C"), "company_id": "CO-A", "utility": "electricity", "category": "e_residential",
        "tariff_id": account["tariff_id"], "meters": [{"meter_id": uid("M")}]})
    assert opened.status_code == 403 and "outside your data scope" in opened.text
    own = await control.client.get(url, headers=token("viewer", companies=("CO-A",)))
    assert own.status_code == 200 and own.json()["balance"] == 0
    customer = await control.client.get(url, headers=token("customer", customers=(account["customer_id"],)))
    assert customer.status_code == 200


async def test_bad_account_bodies_are_refused_with_reasons(control: Control) -> None:
    tariff_id = await control.tariff()
    base = {"customer_id": uid("C"), "company_id": "CO-A", "utility": "electricity", "category": "e_residential",
            "tariff_id": tariff_id, "meters": [{"meter_id": uid("M")}]}
    for changes, status, reason in [
        ({"category": "w_residential"}, 422, "belongs to water"),
        ({"utility": "water", "category": "w_residential"}, 422, "is a electricity tariff"),
        ({"tariff_id": "no-such"}, 422, "no tariff"),
        ({"charge_from": "2025-06-01T00:00:00+08:00"}, 422, "no version in force"),
        ({"meters": [{"meter_id": "M-1"}, {"meter_id": "M-1"}]}, 422, "listed twice"),
        ({"customer_id": "bad id with spaces"}, 422, ""),
    ]:
        resp = await control.client.post("/api/v1/accounts", headers=token(), json={**base, **changes})
        assert resp.status_code == status and reason in resp.text, (changes, resp.text)
