"""Creating tariffs, adding versions, reading them back and answering which price applied at a time.

A version, once stored, never changes (the database refuses it). A new version takes effect
strictly after both the present and the end of every charge already priced by the tariff, so no
price that was ever applied is altered; it must price every category of the open accounts on the
tariff, so an account is never left without a price.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from emms_control.repository import tariffs as repo
from emms_control.tariffs.definition import TariffBody, VersionBody, build_tariff, build_version
from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.model import Tariff
from emms_db.connection import Connection
from emms_runtime import Conflict, Invalid, NotFound


def _checked(body: VersionBody, utility: str, number: int) -> None:
    try:
        build_version(body, utility, number)
    except TariffError as exc:
        raise Invalid(f"version {number}: {exc}") from None


async def create(pool: asyncpg.Pool, body: TariffBody, actor: str) -> dict[str, Any]:
    _checked(body.version, body.utility, 1)
    async with pool.acquire() as conn, conn.transaction():
        if not await repo.insert_tariff(conn, body.tariff_id, body.utility, body.name, body.utc_offset_minutes, actor):
            raise Conflict(f"tariff {body.tariff_id!r} exists; add a version to it instead")
        await repo.insert_version(conn, body.tariff_id, 1, body.version.effective_from,
                                  body.version.model_dump(mode="json"), actor)
        found = await describe(conn, body.tariff_id)
    assert found is not None
    return found


async def add_version(pool: asyncpg.Pool, tariff_id: str, body: VersionBody, actor: str) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.lock_tariff(conn, tariff_id)
        if row is None:
            raise NotFound(f"no tariff {tariff_id!r}")
        current = (await describe(conn, tariff_id)) or {}
        versions = current.get("versions", [])
        number = len(versions) + 1
        _checked(body, row["utility"], number)
        await _check_effective(conn, tariff_id, body.effective_from, versions)
        missing = [c for c in await repo.open_account_categories(conn, tariff_id) if c not in body.prices]
        if missing:
            raise Invalid(f"version {number}: open accounts on tariff {tariff_id!r} are of categories {missing},"
                          " which it gives no prices for")
        await repo.insert_version(conn, tariff_id, number, body.effective_from, body.model_dump(mode="json"), actor)
        found = await describe(conn, tariff_id)
    assert found is not None
    return found


async def _check_effective(conn: Connection, tariff_id: str, effective_from: datetime,
                           versions: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    if effective_from <= now:
        raise Invalid(f"effective_from {effective_from.isoformat()} is not in the future (now {now.isoformat()}):"
                      " a new version never changes a price already in force")
    priced = await repo.latest_charge_end(conn, tariff_id)
    if priced is not None and effective_from <= priced:
        raise Invalid(f"effective_from {effective_from.isoformat()} is not after {priced.isoformat()}, the end of"
                      " a charge already priced by this tariff")
    if any(datetime.fromisoformat(v["effective_from"]) == effective_from for v in versions):
        raise Conflict(f"tariff {tariff_id!r} has a version effective from {effective_from.isoformat()} already")


def _row(row: asyncpg.Record) -> dict[str, Any]:
    versions = json.loads(row["versions"])
    for v in versions:
        v["effective_from"] = datetime.fromisoformat(v["effective_from"]).isoformat()
    return {"tariff_id": row["tariff_id"], "utility": row["utility"], "name": row["name"],
            "utc_offset_minutes": row["utc_offset_minutes"], "created_at": row["created_at"],
            "created_by": row["created_by"], "versions": versions}


async def describe(conn: Connection, tariff_id: str) -> dict[str, Any] | None:
    rows = await repo.tariffs_with_versions(conn, [tariff_id])
    return _row(rows[0]) if rows else None


async def load(conn: Connection, tariff_ids: list[str]) -> dict[str, Tariff]:
    """The pricing model of each tariff named."""
    out = {}
    for row in await repo.tariffs_with_versions(conn, tariff_ids):
        stored = [(v["version"], v["definition"]) for v in json.loads(row["versions"])]
        out[row["tariff_id"]] = build_tariff(row["tariff_id"], row["utility"], row["utc_offset_minutes"], stored)
    return out


async def quote(pool: asyncpg.Pool, tariff_id: str, at: datetime, category: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        tariffs = await load(conn, [tariff_id])
    tariff = tariffs.get(tariff_id)
    if tariff is None:
        raise NotFound(f"no tariff {tariff_id!r}")
    try:
        q = tariff.quote(at, category)
    except TariffError as exc:
        raise NotFound(str(exc)) from None
    if category not in q.version.prices:
        raise NotFound(f"version {q.version.number} of tariff {tariff_id!r} has no prices for category {category!r}")
    tiers = q.version.tiers
    return {"tariff_id": tariff_id, "at": at, "category": category, "version": q.version.number,
            "effective_from": q.version.effective_from, "season": q.season, "period": q.period.value,
            "price": q.price,
            "tiers": None if tiers is None or not tiers.applies_to(category) else {
                "basis": tiers.basis.value,
                "blocks": [{"up_to": b.up_to, "surcharge": b.surcharge} for b in tiers.blocks]}}
