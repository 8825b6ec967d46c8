"""Audit rows become MasterDataChange messages with what consumers need."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from emms_archive.masterdata.entities import ENTITIES
from emms_archive.masterdata.repository import upsert_sql
from emms_archive.outbox import to_message


def _row(action: str, before: dict[str, object] | None, after: dict[str, object] | None) -> dict[str, object]:
    return {"change_id": uuid.uuid4(), "at": datetime(2026, 1, 1, tzinfo=UTC), "actor": "op", "entity": "meter",
            "entity_id": "M1", "action": action, "before": json.dumps(before) if before else None,
            "after": json.dumps(after) if after else None}


def test_update_names_the_changed_fields() -> None:
    msg = to_message(_row("updated", {"id": "M1", "address": "1", "updated_at": "a"},
                          {"id": "M1", "address": "2", "updated_at": "b"}))
    assert msg.kind == "updated" and msg.data["changed_fields"] == ["address"] and msg.entity_id == "M1"


def test_removal_carries_the_last_image_and_ids_are_stable() -> None:
    row = _row("removed", {"id": "M1", "address": "1"}, None)
    msg = to_message(row)
    assert msg.kind == "removed" and msg.data == {"id": "M1", "address": "1"}
    assert msg.stable_id() == to_message(row).stable_id()  # a republished change is the same message


def test_upsert_touches_only_rows_that_differ() -> None:
    sql = upsert_sql(ENTITIES["customer"])
    assert "ON CONFLICT (id) DO UPDATE" in sql and "IS DISTINCT FROM" in sql and "archive.outbox" in sql
    assert "DO NOTHING" in upsert_sql(ENTITIES["group_member"])  # a link has nothing to update
