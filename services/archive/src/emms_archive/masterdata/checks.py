"""Rules across records, checked against the batch and the database together (R-4.6.4).

Each check adds per-row errors to the batch; nothing is written while any error remains.
* references exist (in the database or in the same batch);
* the caller's company / region scope covers every record written;
* a customer's company serves the customer's region (or a region above it) for its utility
  (R-4.6.10), so electricity / water / gas / heat archives stay consistent;
* a metering point has its customer's utility, and a terminal measurement point number (pn)
  belongs to one metering point only;
* a region's level is one below its parent's;
* group members exist;
* meter installations agree with the meter periods on record.
"""

from __future__ import annotations

from typing import Any

from emms_archive.masterdata import meter_periods
from emms_archive.masterdata.batch import Batch, Item, RowError
from emms_archive.masterdata.entities import ENTITIES
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.connection import Connection


class Known:
    """Rows by id from the batch (preferred) or the database, fetched once per entity and id."""

    def __init__(self, conn: Connection, batch: Batch) -> None:
        self._conn = conn
        self._batch = batch
        self._cache: dict[str, dict[str, dict[str, Any] | None]] = {}

    async def rows(self, entity: str, ids: set[str]) -> dict[str, dict[str, Any]]:
        cache = self._cache.setdefault(entity, {})
        missing = [i for i in ids if i not in cache and self._batch.record(entity, i) is None]
        if missing:
            spec = ENTITIES[entity]
            found = await self._conn.fetch(f"SELECT * FROM {SCHEMA}.{spec.table} WHERE id = ANY($1::text[])", missing)
            by_id = {r["id"]: dict(r) for r in found}
            for i in missing:
                cache[i] = by_id.get(i)
        out: dict[str, dict[str, Any]] = {}
        for i in ids:
            row = self._batch.record(entity, i) or cache.get(i)
            if row is not None:
                out[i] = row
        return out


async def check_all(conn: Connection, batch: Batch, scope: Scope) -> None:
    known = Known(conn, batch)
    await check_references(batch, known)
    await check_scope(conn, batch, known, scope)
    await check_regions(conn, batch, known)
    await check_service_areas(conn, batch)
    await check_points(conn, batch, known)
    await check_group_members(batch, known)
    await check_installations(conn, batch, known)


async def check_references(batch: Batch, known: Known) -> None:
    for entity, items in batch.items.items():
        for ref in ENTITIES[entity].refs:
            wanted = {str(it.record[ref.field]) for it in items.values() if it.record.get(ref.field) is not None}
            found = await known.rows(ref.entity, wanted)
            for it in items.values():
                value = it.record.get(ref.field)
                if value is not None and str(value) not in found:
                    batch.error(it, f"{ref.field} {value!r}: no such {ref.entity}", ref.field)


async def _company_of(item: Item, known: Known) -> str | None:
    record = item.record
    if item.entity == "company":
        return str(record["id"])
    if "company_id" in record:
        return str(record["company_id"]) if record["company_id"] is not None else None
    if item.entity == "metering_point":
        customer = (await known.rows("customer", {record["customer_id"]})).get(record["customer_id"])
        return str(customer["company_id"]) if customer else None
    if item.entity == "group_member":
        group = (await known.rows("custom_group", {record["group_id"]})).get(record["group_id"])
        return str(group["company_id"]) if group and group["company_id"] else None
    return None


async def check_scope(conn: Connection, batch: Batch, known: Known, scope: Scope) -> None:
    if scope.unrestricted:
        return
    allowed_regions = await _subtree(conn, scope.regions) if scope.regions else None
    for entity, items in batch.items.items():
        for it in items.values():
            if scope.companies and entity != "region":
                company = await _company_of(it, known)
                if company is not None and company not in scope.companies:
                    batch.error(it, f"company {company!r} is outside your data scope", "company_id")
            region = it.record.get("region_id") if entity != "region" else it.record.get("id")
            if allowed_regions is not None and region is not None and region not in allowed_regions:
                batch.error(it, f"region {region!r} is outside your data scope", "region_id")


async def _subtree(conn: Connection, roots: tuple[str, ...]) -> set[str]:
    rows = await conn.fetch(f"SELECT {SCHEMA}.region_subtree($1::text[]) AS id", list(roots))
    return {r["id"] for r in rows} | set(roots)


async def _region_parents(conn: Connection, batch: Batch, ids: set[str]) -> dict[str, dict[str, Any]]:
    """id → {parent_id, level} for ``ids`` and all their ancestors (batch overrides database)."""
    roots = set(ids) | {it.record["parent_id"] for it in batch.of("region") if it.record.get("parent_id")}
    rows = await conn.fetch(
        f"""WITH RECURSIVE up AS (
                SELECT id, parent_id, level FROM {SCHEMA}.region WHERE id = ANY($1::text[])
                UNION SELECT r.id, r.parent_id, r.level FROM {SCHEMA}.region r JOIN up ON r.id = up.parent_id)
            SELECT * FROM up""", list(roots))
    tree = {r["id"]: {"parent_id": r["parent_id"], "level": r["level"]} for r in rows}
    for it in batch.of("region"):
        tree[it.record["id"]] = {"parent_id": it.record.get("parent_id"), "level": it.record["level"]}
    return tree


def _ancestry(tree: dict[str, dict[str, Any]], region: str) -> list[str]:
    chain: list[str] = []
    current: str | None = region
    while current is not None and current not in chain and current in tree:
        chain.append(current)
        current = tree[current]["parent_id"]
    return chain


async def check_regions(conn: Connection, batch: Batch, known: Known) -> None:
    regions = batch.of("region")
    if not regions:
        return
    tree = await _region_parents(conn, batch, {it.record["id"] for it in regions})
    for it in regions:
        parent = it.record.get("parent_id")
        if parent is None:
            if it.record["level"] != 1:
                batch.error(it, "a region without a parent is level 1", "level")
            continue
        if it.record["id"] in _ancestry(tree, parent):
            batch.error(it, f"parent {parent!r} is below this region (a cycle)", "parent_id")
        elif parent in tree and it.record["level"] != tree[parent]["level"] + 1:
            batch.error(it, f"level {it.record['level']} should be {tree[parent]['level'] + 1}"
                            f" (one below parent {parent!r})", "level")


async def check_service_areas(conn: Connection, batch: Batch) -> None:
    """A customer's company must serve its region, or a region above it, for its utility."""
    customers = batch.of("customer")
    if not customers:
        return
    tree = await _region_parents(conn, batch, {it.record["region_id"] for it in customers})
    companies = list({it.record["company_id"] for it in customers})
    rows = await conn.fetch(f"SELECT company_id, region_id, utility FROM {SCHEMA}.service_area"
                            " WHERE company_id = ANY($1::text[])", companies)
    served = {(r["company_id"], r["region_id"], r["utility"]) for r in rows}
    served |= {(it.record["company_id"], it.record["region_id"], it.record["utility"])
               for it in batch.of("service_area")}
    for it in customers:
        rec = it.record
        chain = _ancestry(tree, rec["region_id"])
        if chain and not any((rec["company_id"], region, rec["utility"]) in served for region in chain):
            batch.error(it, f"company {rec['company_id']!r} does not serve region {rec['region_id']!r} "
                            f"for {rec['utility']} (add a service area)", "company_id")


async def check_points(conn: Connection, batch: Batch, known: Known) -> None:
    points = batch.of("metering_point")
    if not points:
        return
    customers = await known.rows("customer", {it.record["customer_id"] for it in points})
    for it in points:
        customer = customers.get(it.record["customer_id"])
        if customer is not None and customer["utility"] != it.record["utility"]:
            batch.error(it, f"a {it.record['utility']} metering point cannot belong to {customer['utility']} "
                            f"customer {customer['id']!r}", "utility")
    wired = [it for it in points if it.record.get("terminal_id") is not None]
    taken: dict[tuple[str, int], str] = {}
    for it in wired:
        slot = (it.record["terminal_id"], it.record["pn"])
        if slot in taken and taken[slot] != it.record["id"]:
            batch.error(it, f"terminal {slot[0]} pn {slot[1]} is also given to metering point {taken[slot]}", "pn")
        taken.setdefault(slot, it.record["id"])
    rows = await conn.fetch(
        f"SELECT id, terminal_id, pn FROM {SCHEMA}.metering_point"
        " WHERE (terminal_id, pn) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
        [s[0] for s in taken], [s[1] for s in taken])
    in_batch = {it.record["id"] for it in points}
    for r in rows:
        owner = taken.get((r["terminal_id"], r["pn"]))
        if owner is not None and owner != r["id"] and r["id"] not in in_batch:
            item = batch.items["metering_point"][(owner,)]
            batch.error(item, f"terminal {r['terminal_id']} pn {r['pn']} belongs to metering point {r['id']}", "pn")


async def check_group_members(batch: Batch, known: Known) -> None:
    members = batch.of("group_member")
    for kind in ("customer", "metering_point", "meter"):
        of_kind = [it for it in members if it.record["member_kind"] == kind]
        found = await known.rows(kind, {it.record["member_id"] for it in of_kind})
        for it in of_kind:
            if it.record["member_id"] not in found:
                batch.error(it, f"member {it.record['member_id']!r}: no such {kind}", "member_id")


async def check_installations(conn: Connection, batch: Batch, known: Known) -> None:
    if not batch.intents:
        return
    meters = await known.rows("meter", {i.meter_id for i in batch.intents})
    points = await known.rows("metering_point", {i.metering_point_id for i in batch.intents})
    seen: dict[str, int] = {}
    for intent in batch.intents:
        meter, point = meters.get(intent.meter_id), points.get(intent.metering_point_id)
        if meter and point and meter["utility"] != point["utility"]:
            _intent_error(batch, intent.row, f"a {meter['utility']} meter cannot measure a {point['utility']} point")
        if intent.meter_id in seen and seen[intent.meter_id] != intent.row:
            _intent_error(batch, intent.row, f"meter {intent.meter_id} is also installed by row "
                                             f"{seen[intent.meter_id]}")
        seen.setdefault(intent.meter_id, intent.row)
    _, errors = await meter_periods.plan(conn, batch.intents)
    for row, message in errors:
        _intent_error(batch, row, message)


def _intent_error(batch: Batch, row: int, message: str) -> None:
    batch.errors.append(RowError(row, message, "installed_at"))
