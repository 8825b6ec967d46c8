"""Dependencies of the interface's routes: the runtime and the callers each route admits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from emms_interface.runtime import InterfaceRuntime
from emms_runtime import Permission, Principal, require, state_dependency

P = Permission
Runtime = Annotated[InterfaceRuntime, Depends(state_dependency(InterfaceRuntime))]
JobReader = Annotated[Principal, require(P.COLLECTION_READ)]
Collector = Annotated[Principal, require(P.COLLECTION_RUN)]
Commander = Annotated[Principal, require(P.CONTROL_SEND)]
ControlRequester = Annotated[Principal, require(P.CONTROL_SEND, step_up=False)]
"""May ask for a control command; without a step-up the job waits for a stepped-up approver (``Commander``)."""
WorkOrders = Annotated[Principal, require(P.MASTERDATA_IMPORT)]
ReadingsReader = Annotated[Principal, require(P.READINGS_READ)]
AggregatesReader = Annotated[Principal, require(P.AGGREGATES_READ)]
Editor = Annotated[Principal, require(P.MASTERDATA_EDIT)]
Importer = Annotated[Principal, require(P.MASTERDATA_IMPORT)]
Subscriber = Annotated[Principal, require(P.EVENTS_READ, scope="self")]
AnyCaller = Annotated[Principal, require(None, scope="self")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=(
    "a unique id of this request (e.g. a UUID): the same key with the same body returns the same job;"
    " with another body 409"))]


def bearer_of(request: Request) -> str:
    """The caller's own token (forwarded to control and the collector, which check the caller themselves)."""
    _scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip()
