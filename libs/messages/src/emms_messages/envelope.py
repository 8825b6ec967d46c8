"""The envelope every bus message travels in.

A message on the wire is one JSON object::

    {"schema": "reading.raw", "version": 1, "message_id": "…", "produced_at": "…",
     "source": "emms-collector", "trace_id": null, "payload": {…}}

``message_id`` is derived from the payload's natural key (``Payload.natural_key``)
so a redelivered or re-published message keeps its id and consumers can
deduplicate on it.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

NAMESPACE = uuid.UUID("6f1c3a52-6a55-4d0e-9a1b-7e2d3c4b5a69")


class Payload(BaseModel):
    """Base of every bus payload: frozen, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SCHEMA_NAME: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]

    def natural_key(self) -> str:
        """The payload's identity; equal keys mean "the same fact"."""
        return self.model_dump_json()

    def stable_id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{self.SCHEMA_NAME}/{self.SCHEMA_VERSION}/{self.natural_key()}")


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """Schema name, version, stable id, provenance and the typed payload."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_name: str = Field(alias="schema")
    version: int
    message_id: uuid.UUID
    produced_at: datetime
    source: str
    trace_id: str | None = None
    payload: P

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def wrap(payload: P, source: str, *, trace_id: str | None = None,
         produced_at: datetime | None = None) -> Envelope[P]:
    """Put ``payload`` in an envelope whose id is derived from its natural key.

    The payload is already a validated, frozen model, so the envelope is built
    without re-validating it (``model_construct``): publishing is on the hot path."""
    model = envelope_model(type(payload))
    return cast("Envelope[P]", model.model_construct(
        schema_name=payload.SCHEMA_NAME,
        version=payload.SCHEMA_VERSION,
        message_id=payload.stable_id(),
        produced_at=produced_at or datetime.now(UTC),
        source=source,
        trace_id=trace_id,
        payload=payload,
    ))


@functools.cache
def envelope_model(payload_type: type[Payload]) -> type[Envelope[Any]]:
    """``Envelope[payload_type]``, parametrised once (pydantic's own lookup costs µs per call)."""
    return cast("type[Envelope[Any]]", cast(Any, Envelope)[payload_type])


def header_of(raw: bytes) -> dict[str, Any]:
    """The envelope fields without validating the payload (for DLQ reports)."""
    import json

    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("envelope is not a JSON object")
    return {k: v for k, v in data.items() if k != "payload"}
