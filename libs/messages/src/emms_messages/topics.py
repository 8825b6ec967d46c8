"""The bus's topic table: topic → payload model → key rule → partitions.

This one table drives the producers, the consumers, topic creation in the
local broker, the Strimzi ``KafkaTopic`` manifests and ``docs/bus.md``.
Keys keep one entity's messages in order on one partition: terminal-related
messages are keyed by terminal address, readings by terminal (a meter's
readings always arrive through its terminal), master data by entity id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from emms_messages.access import AccessDenied
from emms_messages.control import CommandResult, ControlNotice
from emms_messages.envelope import Payload
from emms_messages.events import Anomaly, DeviceEvent
from emms_messages.masterdata import MasterDataChange
from emms_messages.oplog import OperationLogged
from emms_messages.readings import BackfillRequest, RawReadingBatch, ValidatedReadingBatch
from emms_messages.terminal import DownlinkRequest, DownlinkResult, TerminalSession, TerminalTariff, UplinkFrame

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    payload: type[Payload]
    key: Callable[[Any], str]
    partitions: int
    retention_ms: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def key_of(self, payload: Payload) -> bytes:
        return self.key(payload).encode()


def _t(name: str, payload: type[Payload], key: Callable[[Any], str], partitions: int, days: int,
       producers: tuple[str, ...], consumers: tuple[str, ...], description: str) -> Topic:
    return Topic(name, payload, key, partitions, days * DAY_MS, producers, consumers, description)


TOPICS: Mapping[str, Topic] = MappingProxyType({t.name: t for t in (
    _t("emms.terminal.session.v1", TerminalSession, lambda p: p.terminal, 24, 7,
       ("fep",), ("fep", "collector", "operations", "analytics"),
       "Terminal online/offline, peer, FEP replica, clock deviation."),
    _t("emms.terminal.tariff.v1", TerminalTariff, lambda p: p.terminal, 12, 365,
       ("collector",), ("analytics",),
       "The tariff in force of a terminal (AFN0A F21 periods, F22 rates) each time the collector stores a read of it."),
    _t("emms.uplink.frame.v1", UplinkFrame, lambda p: p.terminal, 48, 3,
       ("fep",), ("collector",), "Every decoded frame a terminal sent (responses, reports, events)."),
    _t("emms.downlink.request.v1", DownlinkRequest, lambda p: p.terminal, 48, 1,
       ("collector", "control", "archive"), ("fep",),
       "Requests for terminals: read, set, control, sync, forward, reset (the archive: terminal-password rotations)."),
    _t("emms.downlink.result.v1", DownlinkResult, lambda p: p.terminal, 48, 3,
       ("fep",), ("collector", "control", "archive", "operations"),
       "Outcome of every downlink request, with decoded answer frames."),
    _t("emms.reading.raw.v1", RawReadingBatch, lambda p: p.terminal, 48, 7,
       ("collector",), ("archive", "validator", "operations"), "Canonical readings as collected, in batches."),
    _t("emms.reading.validated.v1", ValidatedReadingBatch, lambda p: p.terminal, 48, 7,
       ("validator",), ("archive", "analytics", "control", "interface"),
       "Readings after VEE (valid, estimated, repaired or held), one batch per raw batch. Before the first"
       " deployment this topic carried one `reading.validated` message per reading, keyed by meter; it kept"
       " its name when its payload became the batch."),
    _t("emms.device.event.v1", DeviceEvent, lambda p: p.terminal, 24, 30,
       ("collector",), ("archive", "validator", "operations"), "Terminal and meter events (ERC records), normalised."),
    _t("emms.anomaly.v1", Anomaly, lambda p: p.meter_id, 24, 30,
       ("validator",), ("archive", "analytics", "interface"), "Findings of validation rules."),
    _t("emms.backfill.request.v1", BackfillRequest, lambda p: p.meter_id, 24, 3,
       ("validator",), ("collector",), "Requests to re-collect a meter's items over a period."),
    _t("emms.masterdata.change.v1", MasterDataChange, lambda p: p.entity_id, 24, 30,
       ("archive",), ("collector", "fep", "validator", "analytics", "control", "operations"),
       "Archive changes: new / replaced / removed meters, terminals."),
    _t("emms.control.command.v1", CommandResult, lambda p: p.terminal, 24, 30,
       ("control",), ("operations", "interface"), "Remote-control commands: one message per device final result"
       " (verified, confirmed, failed, cancelled) of a trip, close, valve, protect or parameter job."),
    _t("emms.control.notice.v1", ControlNotice, lambda p: p.account_id or p.meter_id or "", 12, 30,
       ("control",), (), "Prepayment and quantity-control notices for the customer channel: alarm, trip, restore,"
       " alarm cleared, usage limit exceeded (one message per notice)."),
    _t("emms.access.denied.v1", AccessDenied, lambda p: p.subject or p.client_ip or p.service, 6, 90,
       ("fep", "collector", "validator", "control", "analytics", "archive", "identity", "reports",
        "interface"), ("identity",),
       "Requests refused by a service's access check (401/403/429/503), for the identity service's audit log."),
    _t("emms.operation.log.v1", OperationLogged, lambda p: p.service, 6, 30,
       ("fep", "collector", "validator", "control", "analytics", "archive", "identity"), ("operations",),
       "The duty log: one message per important operation (control commands, parameter changes, resets, user"
       " changes, task changes, approvals), for the operations service's immutable log (emms_runtime.oplog)."),
)})

PAYLOAD_TOPIC: Mapping[type[Payload], Topic] = MappingProxyType({t.payload: t for t in TOPICS.values()})


def topic_for(payload: Payload) -> Topic:
    """The topic a payload is published on."""
    try:
        return PAYLOAD_TOPIC[type(payload)]
    except KeyError:
        raise KeyError(f"no topic carries {type(payload).__name__}") from None


def all_payload_models() -> list[type[Payload]]:
    """Every payload model reachable from the topic table (for schema snapshots)."""
    return [t.payload for t in TOPICS.values()]
