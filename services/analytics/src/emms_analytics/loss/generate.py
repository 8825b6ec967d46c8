"""Loss models generated from the network topology in master data, with a new version when it changes.

One model per node of a generating kind (``models.GENERATED_KINDS``: a transformer — 台区 —, a district-metered
area, a gas pressure zone, a heat-exchange station): its members are the metering points of the node's utility
placed on the node or below it (down to the next generating node); the points of customers of category
``network`` (the utility's own total / inlet / station meters) are the inputs, every other point an output.
Members count × sign 1 × multiplier 1 (the meter's multiplier in master data — CT × PT — applies to every usage).
A model whose member set differs from its current version gets the next version (a customer moved to another
transformer, a point added or removed; a replaced meter changes no member: usage follows the meter periods); a
node that no longer has an input and an output makes its model inactive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_analytics.loss.models import GENERATED_KINDS, INPUT_CATEGORY, fingerprint, problems
from emms_analytics.repository import loss_models
from emms_db.connection import Connection

GENERATE_LOCK = 0x4C4F5353  # "LOSS": one generation at a time across instances


@dataclass(frozen=True, slots=True)
class Generated:
    created: list[str]
    versioned: list[str]
    deactivated: list[str]

    def as_json(self) -> dict[str, list[str]]:
        return {"created": self.created, "versioned": self.versioned, "deactivated": self.deactivated}


def desired(nodes: Sequence[Mapping[str, Any]], points: Sequence[Mapping[str, Any]],
            main_items: Mapping[str, str]) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """model id → (model row, members) for every generating node (pure)."""
    by_id = {n["node_id"]: n for n in nodes}

    def owner(node_id: str | None) -> str | None:  # the nearest generating node at or above
        seen = 0
        while node_id is not None and seen < 64:
            node = by_id.get(node_id)
            if node is None:
                return None
            if node["kind"] in GENERATED_KINDS:
                return node_id
            node_id, seen = node["parent_id"], seen + 1
        return None

    out: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for n in nodes:
        if n["kind"] not in GENERATED_KINDS:
            continue
        utility = n["utility"] or GENERATED_KINDS[n["kind"]]
        row = {"model_id": f"gen-{n['node_id']}", "name": n["name"] or n["node_id"], "utility": utility,
               "model_class": n["kind"], "source": "generated", "node_id": n["node_id"],
               "item": main_items.get(utility, ""), "region_id": n["region_id"], "company_id": n["company_id"],
               "line_id": n["parent_id"], "voltage_level": "0.4kV" if n["kind"] == "transformer" else None}
        out[row["model_id"]] = (row, [])
    for p in points:
        home = owner(p["node_id"])
        if home is None:
            continue
        row, members = out[f"gen-{home}"]
        if p["utility"] not in (None, row["utility"]):
            continue
        members.append({"metering_point_id": p["metering_point_id"],
                        "side": "input" if p["category"] == INPUT_CATEGORY else "output", "sign": 1.0,
                        "multiplier": 1.0})
    return out


async def regenerate(conn: Connection, schema: str, main_items: Mapping[str, str], actor: str = "topology",
                     as_of: datetime | None = None) -> Generated:
    """Bring the generated models up to date with the master-data copy (in the caller's transaction); a new
    version is in force from ``as_of`` (the newest change time of the topology's changes; None: now)."""
    await loss_models.lock_generation(conn, GENERATE_LOCK)
    want = desired(await loss_models.topology_nodes(conn, schema), await loss_models.topology_points(conn, schema),
                   main_items)
    have = {m["model_id"]: m for m in await loss_models.list_models(conn, schema, source="generated",
                                                                      active_only=False)}
    latest: dict[str, dict[str, Any]] = {}
    for v in await loss_models.versions(conn, schema, list(have)):
        latest[v["model_id"]] = v
    current: dict[str, set[str]] = {}
    if have:
        for m in await loss_models.members(conn, schema, list(have),
                                           {k: [v["version"]] for k, v in latest.items()}):
            current.setdefault(m["model_id"], set()).add(m["metering_point_id"])
    created, versioned, deactivated = [], [], []
    for model_id, (row, members) in sorted(want.items()):
        usable = not problems(members, {m["metering_point_id"]: row["utility"] for m in members}, row["utility"])
        old = have.get(model_id)
        if not usable:
            if old is not None and old["active"]:
                await loss_models.deactivate(conn, schema, model_id)
                deactivated.append(model_id)
            continue
        print_ = fingerprint(members)
        if old is None:
            await loss_models.insert_model(conn, schema, row)
            await loss_models.insert_version(conn, schema, model_id, 1, "generated from the topology", actor,
                                             print_, members, as_of)
            created.append(model_id)
            continue
        last = latest.get(model_id)
        if last is not None and last["fingerprint"] == print_ and old["active"]:
            continue
        version = (last["version"] if last is not None else 0) + 1
        before = current.get(model_id, set())
        now = {m["metering_point_id"] for m in members}
        reason = _diff(before, now)
        await loss_models.insert_version(conn, schema, model_id, version, reason, actor, print_, members, as_of)
        await loss_models.update_model(conn, schema, row, version)
        versioned.append(model_id)
    for model_id, old in have.items():
        if model_id not in want and old["active"]:
            await loss_models.deactivate(conn, schema, model_id)
            deactivated.append(model_id)
    return Generated(created, versioned, deactivated)


def _diff(before: set[str], now: set[str]) -> str:
    added, removed = sorted(now - before), sorted(before - now)
    parts = []
    if added:
        parts.append("+" + ", +".join(added[:10]))
    if removed:
        parts.append("-" + ", -".join(removed[:10]))
    return "topology changed: " + ("; ".join(parts) if parts else "sides or factors")
