"""The validator's important operations in the duty log (R-4.6.7, ``emms.operation.log.v1``): a reading
edited by hand (a new published version), an anomaly acknowledged / resolved / dismissed (the approval steps
of the review), a rule switched or re-parametrised for a scope. Published after the operation committed,
never failing it (``emms_runtime.oplog``)."""

from __future__ import annotations

from typing import Any

from emms_bus import BusProducer
from emms_runtime import oplog

SERVICE = "validator"


async def reading_edited(producer: BusProducer | None, *, actor: str, meter_id: str, item: str, data_time: str,
                         value: float, reason: str, message_id: str) -> bool:
    return await oplog.record(
        producer, service=SERVICE, category="approval", action="reading.edit", actor=actor,
        target=f"{meter_id} {item} at {data_time}", meter_id=meter_id, reason=reason,
        entry_id=f"{SERVICE}/edit/{message_id}", detail={"item": item, "data_time": data_time, "value": value})


async def anomaly_moved(producer: BusProducer | None, *, actor: str, anomaly: dict[str, Any], to: str,
                        note: str | None) -> bool:
    anomaly_id = anomaly.get("anomaly_id") or anomaly.get("id")
    return await oplog.record(
        producer, service=SERVICE, category="approval", action=f"anomaly.{to}", actor=actor,
        target=f"anomaly {anomaly_id}", meter_id=anomaly.get("meter_id"), reason=note,
        entry_id=f"{SERVICE}/anomaly/{anomaly_id}/{to}", detail={"rule": anomaly.get("rule")})


async def rule_changed(producer: BusProducer | None, *, actor: str, action: str, scope: str, scope_value: str,
                       rule: str, override: dict[str, Any] | None = None) -> bool:
    return await oplog.record(
        producer, service=SERVICE, category="parameter", action=action, actor=actor,
        target=f"rule {rule} for {scope} {scope_value}", detail={"override": override or {}})
