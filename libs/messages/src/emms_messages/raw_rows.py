"""``reading.raw`` messages decoded straight into table rows, for bulk writers.

A ``RawReadingBatch`` carries a hundred readings or more; building a pydantic model for each
costs several microseconds, which is most of what storing a reading costs. The archive's bulk
writer needs no models, only rows: :func:`decode_raw_rows` turns the message into
:class:`RawRows` directly.

The decoder is exact, not lenient. It validates with pydantic against ``TypedDict`` twins of the
models, made from the models' own field annotations and constraints (so the two cannot drift):
the same parsing, coercion and errors, in Rust, without a Python object per reading. A message
the twin refuses is decoded by the model itself, which raises its ``ValidationError`` or, for
what only the model accepts (the envelope's field names instead of its aliases), gives the
result. The result is therefore always what ``Envelope[RawReadingBatch].model_validate_json``
would give, in row form (tests/unit/messages/test_raw_rows.py checks this with generated and
mutated messages).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NotRequired, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter
from typing_extensions import TypedDict

from emms_messages.envelope import Envelope, envelope_model
from emms_messages.readings import RawReadingBatch, Reading

ROW_COLUMNS = ("meter_id", "item", "data_time", "source", "value", "unit", "collected_at", "quality",
               "terminal", "pn", "batch_id")
"""Column order of a row: the reading's fields, its terminal (the batch's when it names none) and the batch id."""

RawRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RawRows:
    """The readings of one ``RawReadingBatch`` as rows in :data:`ROW_COLUMNS` order."""

    batch_id: str
    terminal: str
    rows: list[RawRow]

    @classmethod
    def of(cls, batch: RawReadingBatch) -> RawRows:
        """Rows of an already validated batch."""
        bid, term = batch.batch_id, batch.terminal
        return cls(bid, term, [(r.meter_id, r.item, r.data_time, r.source, r.value, r.unit, r.collected_at,
                                r.quality, r.terminal or term, r.pn, bid) for r in batch.readings])


def typed_dict_of(model: type[BaseModel], name: str, replace: dict[str, Any] | None = None) -> Any:
    """A ``TypedDict`` with ``model``'s fields: the same annotations and constraints (``Field``
    metadata), keyed by alias, fields with a default not required, unknown keys refused when the
    model refuses them. ``replace`` substitutes a field's annotation (a nested model's twin)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation = (replace or {}).get(field_name, info.annotation)
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        fields[info.alias or field_name] = annotation if info.is_required() else NotRequired[annotation]
    twin: Any = cast(Any, TypedDict)(name, fields)
    twin.__pydantic_config__ = ConfigDict(extra=model.model_config.get("extra"))
    return twin


# Timestamps are taken as text and parsed once per distinct value (a batch's readings share a few
# data and collection times), into datetimes in ``datetime.UTC``: pydantic's own time zone object
# makes every later comparison and every COPY of the value call back into it.
_Reading = typed_dict_of(Reading, "ReadingTwin", {"data_time": str, "collected_at": str})
_Batch = typed_dict_of(RawReadingBatch, "RawReadingBatchTwin", {"readings": cast(Any, list)[_Reading]})
_ENVELOPE: TypeAdapter[dict[str, Any]] = TypeAdapter(
    typed_dict_of(envelope_model(RawReadingBatch), "RawEnvelopeTwin", {"payload": _Batch}))
_QUALITY = Reading.model_fields["quality"].default
_fromisoformat = datetime.fromisoformat


class _ModelDecides(Exception):
    """Not in the canonical form: the model decides."""


def _utc(s: str) -> datetime:
    """A canonical UTC timestamp (``YYYY-MM-DDTHH:MM:SS[.fff[fff]]Z``) in ``datetime.UTC``."""
    if (len(s) not in (20, 24, 27) or s[-1] != "Z" or s[4] != "-" or s[7] != "-" or s[10] != "T" or s[13] != ":"
            or s[16] != ":"):
        raise _ModelDecides
    return _fromisoformat(s)  # 3.11+: "Z" → datetime.UTC; a string it refuses raises ValueError


def decode_raw_rows(raw: bytes) -> Envelope[Any]:
    """Decode a ``reading.raw`` message; the envelope's payload is a :class:`RawRows`.

    Raises ``pydantic.ValidationError`` (a ``ValueError``) exactly when the model would."""
    try:
        return _decode(_ENVELOPE.validate_json(raw))
    except (_ModelDecides, ValueError):  # pydantic's ValidationError is a ValueError
        pass
    env = envelope_model(RawReadingBatch).model_validate_json(raw)  # raises, or accepts what only it does
    return _envelope(env.schema_name, env.version, env.message_id, env.produced_at, env.source, env.trace_id,
                     RawRows.of(env.payload))


def _decode(doc: dict[str, Any]) -> Envelope[Any]:
    p = doc["payload"]
    bid, term = p["batch_id"], p["terminal"]
    quality = _QUALITY
    times: dict[str, datetime] = {}
    rows: list[RawRow] = []
    append = rows.append
    for r in p["readings"]:
        d, c = r["data_time"], r["collected_at"]
        dt = times.get(d)
        if dt is None:
            dt = times[d] = _utc(d)
        ct = times.get(c)
        if ct is None:
            ct = times[c] = _utc(c)
        append((r["meter_id"], r["item"], dt, r["source"], r["value"], r["unit"], ct, r.get("quality", quality),
                r.get("terminal") or term, r.get("pn"), bid))
    return _envelope(doc["schema"], doc["version"], doc["message_id"], doc["produced_at"], doc["source"],
                     doc.get("trace_id"), RawRows(bid, term, rows))


def _envelope(schema: str, version: int, message_id: uuid.UUID, produced_at: datetime, source: str,
              trace_id: str | None, payload: RawRows) -> Envelope[Any]:
    # The header fields are validated; the payload is rows, not a model, so the envelope is
    # assembled without validation.
    return Envelope.model_construct(schema_name=schema, version=version, message_id=message_id,
                                    produced_at=produced_at, source=source, trace_id=trace_id, payload=payload)
