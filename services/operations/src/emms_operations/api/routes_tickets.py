"""``/api/v1/tickets``: fault tickets and their standard procedure; ``/api/v1/maintenance``: maintenance
records linked to tickets and devices. A step the procedure forbids is a 409 naming what is allowed."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from emms_operations.api.bodies import NewMaintenance, NewTicket, Transition
from emms_operations.api.deps import Limit, Offset, OpsDep, Reader, Text, Worker
from emms_operations.api.responses import MaintenanceOut, TicketDetail, TicketOut, errors
from emms_operations.faults.model import METER_ALARM, procedure
from emms_operations.repository import faults as fault_sql
from emms_operations.repository import tickets as sql
from emms_operations.tickets import service
from emms_operations.tickets.procedure import State, parse_severity, parse_state
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1", tags=["tickets"])
TicketId = Annotated[int, Path(ge=1, le=2**62)]
StateParam = Annotated[list[str] | None, Query(description="states to list (repeat); default all")]


@router.get("/tickets", response_model=list[TicketOut], responses=errors(e422="Unknown state or severity"),
            summary="Tickets, newest first; filter by state, severity, assignee, subject, overdue")
async def list_tickets(ops: OpsDep, _: Reader, state: StateParam = None,
                       severity: Literal["critical", "major", "minor"] | None = None, assignee: Text = None,
                       subject: Text = None, overdue: bool = False, limit: Limit = 100,
                       offset: Offset = 0) -> list[dict[str, Any]]:
    states = None if not state else [parse_state(s).value for s in state]
    async with ops.pool.acquire() as conn:
        return await sql.listing(conn, states=states, severity=severity, assignee=assignee, subject=subject,
                                 overdue_at=ops.now() if overdue else None, limit=limit, offset=offset)


@router.post("/tickets", response_model=TicketOut, status_code=201, responses=errors(),
             summary="Open a ticket by hand (assigned at once when an assignee is given)")
async def open_ticket(ops: OpsDep, principal: Worker, body: NewTicket) -> dict[str, Any]:
    async with ops.pool.acquire() as conn, conn.transaction():
        return await service.open_by_hand(conn, title=body.title, level=body.level, subject=body.subject,
                                          severity=parse_severity(body.severity), actor=principal.subject,
                                          assignee=body.assignee, due_h=ops.settings.tickets.due_h, at=ops.now())


@router.get("/tickets/{ticket_id}", response_model=TicketDetail, responses=errors(e404="No such ticket"),
            summary="One ticket with its history, its fault, the suggested handling and its maintenance records")
async def get_ticket(ops: OpsDep, _: Reader, ticket_id: TicketId) -> dict[str, Any]:
    async with ops.pool.acquire() as conn:
        ticket = await sql.get(conn, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket {ticket_id}")
        ticket["history"] = await sql.history(conn, ticket_id)
        ticket["maintenance"] = await sql.maintenance(conn, ticket_id=ticket_id, device_kind=None, device_id=None,
                                                      limit=1000, offset=0)
        ticket["fault"] = None if ticket["fault_id"] is None else await fault_sql.get(conn, ticket["fault_id"])
    ticket["procedure"] = procedure(ticket["fault"]["kind"] if ticket["fault"] else None)
    return ticket


@router.post("/tickets/{ticket_id}/transition", response_model=TicketOut,
             responses=errors(e404="No such ticket", e409="The procedure does not allow this step from the state",
                              e422="Unknown state, or the step needs an assignee / closing reason"),
             summary="Move a ticket one step: assigned (assignee), in_progress, escalated, resolved, closed"
                     " (closing_reason)")
async def transition(ops: OpsDep, principal: Worker, ticket_id: TicketId, body: Transition) -> dict[str, Any]:
    at = ops.now()
    async with ops.pool.acquire() as conn, conn.transaction():
        ticket = await service.transition(conn, ticket_id, body.state, actor=principal.subject,
                                          assignee=body.assignee, closing_reason=body.closing_reason,
                                          note=body.note, at=at)
        if ticket["fault_id"] is not None and ticket["state"] in (State.RESOLVED, State.CLOSED):
            fault = await fault_sql.get(conn, ticket["fault_id"])
            if fault is not None and fault["kind"] == METER_ALARM:  # an alarm has no condition to watch: done
                await fault_sql.clear(conn, [fault["fault_id"]], at)
    return ticket


@router.get("/maintenance", response_model=list[MaintenanceOut], responses=errors(),
            summary="Maintenance records, newest first; by ticket or device")
async def list_maintenance(ops: OpsDep, _: Reader, ticket_id: Annotated[int | None, Query(ge=1)] = None,
                           device_kind: Literal["master", "channel", "terminal", "meter"] | None = None,
                           device_id: Text = None, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    async with ops.pool.acquire() as conn:
        return await sql.maintenance(conn, ticket_id=ticket_id, device_kind=device_kind, device_id=device_id,
                                     limit=limit, offset=offset)


@router.post("/maintenance", response_model=MaintenanceOut, status_code=201,
             responses=errors(e404="No such ticket"), summary="Record maintenance done on a device (for a ticket)")
async def add_maintenance(ops: OpsDep, principal: Worker, body: NewMaintenance) -> dict[str, Any]:
    async with ops.pool.acquire() as conn, conn.transaction():
        if body.ticket_id is not None and await sql.get(conn, body.ticket_id) is None:
            raise NotFound(f"no ticket {body.ticket_id}")
        return await sql.add_maintenance(conn, ticket_id=body.ticket_id, device_kind=body.device_kind,
                                         device_id=body.device_id, action=body.action,
                                         performed_by=body.performed_by, performed_at=body.performed_at,
                                         note=body.note, recorded_by=principal.subject)
