"""Charges from validated reading batches, in the caller's transaction.

Per batch of messages: lock the open accounts of the meters read (in id order; payments and
closing lock the same rows), hold their tariffs (no new version meanwhile), walk each meter's
readings from its baseline, price each usage, store the charges and one ledger entry each, the
new baselines and the tier usage. The consumer claims the messages in the inbox in the same
transaction, so a redelivered batch changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog

from emms_control.charges.pricing import TierKey, charge_id, price
from emms_control.charges.usage import Baseline, Usage, advance, points
from emms_control.prepayment import master
from emms_control.repository import accounts as accounts_repo
from emms_control.repository import charges as repo
from emms_control.repository import tariffs as tariffs_repo
from emms_control.tariffs import catalog
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.model import Tariff
from emms_db.connection import Connection
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch

log = structlog.get_logger("emms.control.charges")
ACTOR = "control:charges"


@dataclass
class Applied:
    charges: int = 0
    amount: Decimal = Decimal(0)
    skipped: Counter[str] = field(default_factory=Counter)


def _baseline(row: Any) -> Baseline:
    values = {k: Decimal(v) for k, v in json.loads(row["registers"]).items()}
    return Baseline(row["data_time"], values, row["status"], row["held_since"])


@dataclass
class _Account:
    account_id: str
    category: str
    tariff: Tariff
    tier_used: dict[TierKey, Decimal]
    touched: set[TierKey] = field(default_factory=set)


async def apply_batches(conn: Connection, batches: Sequence[ValidatedReadingBatch]) -> Applied:
    by_meter: dict[str, list[ValidatedReading]] = {}
    for batch in batches:
        for r in batch.readings:
            by_meter.setdefault(r.meter_id, []).append(r)
    applied = Applied()
    links = await repo.lock_links(conn, sorted(by_meter))
    if not links:
        return applied
    tariff_ids = sorted({r["tariff_id"] for r in links})
    await tariffs_repo.share_tariffs(conn, tariff_ids)
    tariffs = await catalog.load(conn, tariff_ids)
    account_ids = sorted({r["account_id"] for r in links})
    used: dict[str, dict[TierKey, Decimal]] = {a: {} for a in account_ids}
    for row in await repo.tier_usage(conn, account_ids):
        used[row["account_id"]][(row["basis"], row["period_key"])] = row["quantity"]
    stored = {(r["account_id"], r["meter_id"]): _baseline(r)
              for r in await repo.baselines(conn, [(r["account_id"], r["meter_id"]) for r in links])}
    accounts = {r["account_id"]: _Account(r["account_id"], r["category"], tariffs[r["tariff_id"]],
                                          used[r["account_id"]]) for r in links}
    rows: list[dict[str, Any]] = []
    new_baselines = []
    for link in links:
        key = (link["account_id"], link["meter_id"])
        result = advance(link["meter_id"], stored.get(key), points(by_meter[link["meter_id"]], link["utility"]),
                         link["multiplier"], link["charge_from"])
        applied.skipped.update(result.skipped)
        account = accounts[link["account_id"]]
        rows += [c for c in (_priced(account, u, applied) for u in result.usages) if c is not None]
        b = result.baseline
        if b is not None and b != stored.get(key):
            new_baselines.append((*key, b.data_time, {k: str(v) for k, v in b.values.items()}, b.status,
                                  b.held_since))
    inserted = await repo.insert_charges(conn, rows)
    for charge in rows:
        if charge["charge_id"] in inserted:
            await accounts_repo.post(conn, charge["account_id"], "charge", -charge["amount"], str(charge["charge_id"]),
                                     ACTOR, f"{charge['meter_id']} {charge['start'].isoformat()} …"
                                     f" {charge['end'].isoformat()}")
            applied.charges += 1
            applied.amount += charge["amount"]
    await master.evaluate_accounts(conn, sorted({c["account_id"] for c in rows if c["charge_id"] in inserted}),
                                   "charge")
    await repo.save_baselines(conn, new_baselines)
    await repo.save_tier_usage(conn, [(a.account_id, k[0], k[1], a.tier_used[k])
                                      for a in accounts.values() for k in sorted(a.touched)])
    return applied


def _priced(account: _Account, usage: Usage, applied: Applied) -> dict[str, Any] | None:
    try:
        priced = price(usage, account.tariff, account.category, account.tier_used)
    except TariffError as exc:
        log.error("usage not priced", account_id=account.account_id, meter_id=usage.meter_id,
                  start=usage.start.isoformat(), end=usage.end.isoformat(), reason=str(exc))
        applied.skipped["unpriced"] += 1
        return None
    account.tier_used.update(priced.tier_used)
    account.touched.update(priced.tier_used)
    return {"charge_id": charge_id(account.account_id, usage), "account_id": account.account_id,
            "meter_id": usage.meter_id, "tariff_id": account.tariff.tariff_id, "start": usage.start,
            "end": usage.end, "quantity": priced.quantity, "amount": priced.amount, "flags": list(priced.flags),
            "start_status": usage.start_status, "end_status": usage.end_status,
            "lines": [line.as_json() for line in priced.lines]}


def charge_view(row: Any) -> dict[str, Any]:
    """A stored charge as the API shows it."""
    return {"charge_id": str(row["charge_id"]), "account_id": row["account_id"], "meter_id": row["meter_id"],
            "tariff_id": row["tariff_id"], "start": row["start_time"], "end": row["end_time"],
            "quantity": row["quantity"], "amount": row["amount"], "flags": list(row["flags"]),
            "estimated": "estimated" in row["flags"], "held": "held" in row["flags"],
            "start_status": row["start_status"], "end_status": row["end_status"],
            "lines": json.loads(row["lines"]), "computed_at": row["computed_at"]}


