"""SQL of terminal management: parameters desired / reported, pushes, terminals seen, unknown meters, actions.

Tables of migration 0006 (see there for the states). Pushes are claimed with a lease
(``FOR UPDATE SKIP LOCKED``), so replicas never send the same push twice at once and a push
claimed by a replica that died is taken up again when its lease lapses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection

_STATUS = (f"CASE WHEN r.status = 'new' AND EXISTS (SELECT 1 FROM {SCHEMA}.terminal_owner o"
           " WHERE o.terminal = r.terminal) THEN 'known' ELSE r.status END")
"""A terminal registered ``new`` whose master data arrived after its first login (a fleet loaded while it
logs in) is ``known``, not waiting for an operator."""
OPEN = ("pending", "sending", "readback")
_PUSH = ("id, terminal, fn, value, kind, state, attempts, waiting_online, next_try_at, requested_by, requested_at,"
         " confirmed_at, finished_at, reported, detail")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in ("value", "reported", "desired", "version", "config", "detail"):
        if isinstance(out.get(key), str) and key != "detail":
            out[key] = json.loads(out[key])
    for key, value in list(out.items()):
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


# -- pushes ------------------------------------------------------------------------------------------------------

async def add_push(conn: Connection, terminal: str, fn: int, value: Any, requested_by: str,
                   kind: str = "operator") -> dict[str, Any]:
    """A new push; an open push of the same (terminal, Fn) is superseded (the newer value wins)."""
    await conn.execute(
        f"UPDATE {SCHEMA}.param_push SET state = 'superseded', finished_at = now(),"
        " detail = 'superseded by a newer push' WHERE terminal = $1 AND fn = $2 AND state = 'pending'", terminal, fn)
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.param_push (terminal, fn, value, kind, requested_by) VALUES ($1, $2, $3::jsonb, $4, $5)"
        f" RETURNING {_PUSH}", terminal, fn, _json(value), kind, requested_by)
    if fn != 10:  # the F10 table is kept per record, not as one desired value
        await conn.execute(
            f"""INSERT INTO {SCHEMA}.terminal_param (terminal, fn, desired, desired_at, desired_by, state)
                VALUES ($1, $2, $3::jsonb, now(), $4, 'pending')
                ON CONFLICT (terminal, fn) DO UPDATE SET desired = excluded.desired, desired_at = now(),
                    desired_by = excluded.desired_by, state = 'pending'""", terminal, fn, _json(value), requested_by)
    return _row(row)


async def merge_table_push(conn: Connection, terminal: str, records: Sequence[dict[str, Any]], requested_by: str
                           ) -> tuple[int, bool]:
    """Add F10 records to the terminal's pending table push (a record replaces one with the same serial), or
    start one; (push id, whether it is new). Many installations on one terminal make one frame."""
    row = await conn.fetchrow(
        f"SELECT id, value FROM {SCHEMA}.param_push WHERE terminal = $1 AND fn = 10 AND state = 'pending'"
        " AND kind = 'meter_table' AND attempts = 0 ORDER BY id DESC LIMIT 1 FOR UPDATE", terminal)
    if row is None:
        value = {"type": "MeterConfig", "records": list(records)}
        pid = await conn.fetchval(
            f"INSERT INTO {SCHEMA}.param_push (terminal, fn, value, kind, requested_by) VALUES ($1, 10, $2::jsonb,"
            " 'meter_table', $3) RETURNING id", terminal, _json(value), requested_by)
        return int(pid), True
    held = json.loads(row["value"]) if isinstance(row["value"], str) else row["value"]
    by_serial = {r["serial"]: r for r in held["records"]}
    by_serial.update({r["serial"]: r for r in records})
    held["records"] = [by_serial[k] for k in sorted(by_serial)]
    await conn.execute(f"UPDATE {SCHEMA}.param_push SET value = $2::jsonb WHERE id = $1", row["id"], _json(held))
    return int(row["id"]), False


async def point_of(conn: Connection, meter_id: str) -> tuple[str, int] | None:
    """(terminal, pn) of a meter's point, active or not (a removal names only the meter)."""
    row = await conn.fetchrow(f"SELECT terminal, pn FROM {SCHEMA}.point WHERE meter_id = $1", meter_id)
    return (row["terminal"], row["pn"]) if row else None


async def terminal_company(conn: Connection, terminal: str) -> str | None:
    """The company a terminal belongs to (its master-data row or its meters), if any."""
    value = await conn.fetchval(f"SELECT company_id FROM {SCHEMA}.terminal_owner WHERE terminal = $1"
                                " AND company_id IS NOT NULL LIMIT 1", terminal)
    return None if value is None else str(value)


async def archive_terminal_id(conn: Connection, terminal: str) -> str | None:
    """The archive's id of a terminal (its master-data row as the collector keeps it)."""
    value = await conn.fetchval(f"SELECT id FROM {SCHEMA}.md_terminal WHERE terminal = $1 LIMIT 1", terminal)
    return None if value is None else str(value)


async def registry_row(conn: Connection, terminal: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT terminal, {_STATUS} AS status, version, config FROM {SCHEMA}.terminal_registry r"
        " WHERE terminal = $1", terminal)
    return _row(row) if row else None


async def claim_due(conn: Connection, me: str, lease_s: float, limit: int) -> list[dict[str, Any]]:
    """Open pushes due now, leased to ``me`` (one waiting for its terminal is due at its login, or after the
    offline retry interval at the latest)."""
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.param_push p SET lease_until = now() + make_interval(secs => $2), claimed_by = $1,
                state = CASE WHEN p.state = 'readback' THEN 'readback' ELSE 'sending' END
            WHERE p.id IN (SELECT id FROM {SCHEMA}.param_push
                           WHERE state IN ('pending', 'sending', 'readback') AND next_try_at <= now()
                             AND (lease_until IS NULL OR lease_until < now())
                           ORDER BY next_try_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING {_PUSH}""", me, lease_s, limit)
    return [_row(r) for r in rows]


DETAIL_MAX = 500
"""A push's stored detail is cut to this many characters."""


async def push_retry(conn: Connection, push_id: int, *, state: str, waiting_online: bool, retry_in_s: float,
                     detail: str) -> None:
    await conn.execute(
        f"""UPDATE {SCHEMA}.param_push SET state = $2, waiting_online = $3, attempts = attempts + 1,
                next_try_at = now() + make_interval(secs => $4), lease_until = NULL, detail = $5 WHERE id = $1""",
        push_id, state, waiting_online, retry_in_s, detail[:DETAIL_MAX])


async def push_confirmed(conn: Connection, push_id: int) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.param_push SET state = 'readback', confirmed_at = now(), attempts = attempts + 1,"
        " detail = 'confirmed (AFN00); read-back to do' WHERE id = $1", push_id)


async def push_finished(conn: Connection, push_id: int, state: str, detail: str, reported: Any = None) -> None:
    await conn.execute(
        f"""UPDATE {SCHEMA}.param_push SET state = $2, detail = $3, reported = $4::jsonb, finished_at = now(),
                lease_until = NULL, attempts = attempts + CASE WHEN $2 IN ('denied', 'failed') THEN 1 ELSE 0 END
            WHERE id = $1""", push_id, state, detail[:DETAIL_MAX], None if reported is None else _json(reported))


async def restore_desired(conn: Connection, terminal: str, fn: int) -> None:
    """A push the terminal refused (or that never got through) is not what the master wants any more: the
    desired value goes back to the last one the terminal confirmed (none: unknown)."""
    await conn.execute(
        f"""UPDATE {SCHEMA}.terminal_param tp SET
                desired = (SELECT value FROM {SCHEMA}.param_push p WHERE p.terminal = $1 AND p.fn = $2
                           AND p.state = 'done' ORDER BY p.id DESC LIMIT 1),
                state = CASE WHEN tp.reported IS NULL THEN 'unknown' ELSE tp.state END
            WHERE tp.terminal = $1 AND tp.fn = $2 AND NOT EXISTS (
                SELECT 1 FROM {SCHEMA}.param_push o WHERE o.terminal = $1 AND o.fn = $2
                AND o.state IN ('pending', 'sending', 'readback'))""", terminal, fn)
    await conn.execute(
        f"""UPDATE {SCHEMA}.terminal_param SET state = CASE
                WHEN desired IS NULL THEN 'unknown' WHEN desired = reported THEN 'in_sync' ELSE 'drift' END
            WHERE terminal = $1 AND fn = $2 AND reported IS NOT NULL AND state = 'pending'""", terminal, fn)


async def wake_terminals(conn: Connection, terminals: Sequence[str]) -> int:
    """The terminals came online: their pushes waiting for that are due now."""
    result = await conn.execute(
        f"UPDATE {SCHEMA}.param_push SET waiting_online = false, next_try_at = now()"
        " WHERE terminal = ANY($1::text[]) AND state IN ('pending', 'sending', 'readback') AND waiting_online",
        list(terminals))
    return int(result.split()[-1])


async def get_push(conn: Connection, push_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_PUSH} FROM {SCHEMA}.param_push WHERE id = $1", push_id)
    return _row(row) if row else None


async def list_pushes(conn: Connection, terminal: str | None, state: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_PUSH} FROM {SCHEMA}.param_push WHERE ($1::text IS NULL OR terminal = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3", terminal, state, limit)
    return [_row(r) for r in rows]


async def count_pushes(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    rows = await conn.fetch(f"SELECT state, count(*) AS n FROM {SCHEMA}.param_push WHERE id = ANY($1::bigint[])"
                            " GROUP BY state", list(ids))
    return {r["state"]: r["n"] for r in rows}


# -- parameters desired / reported ---------------------------------------------------------------------------------

async def note_reported(conn: Connection, terminal: str, fn: int, reported: Any, in_sync: bool | None) -> str:
    """Store a read-back; the parameter's state: in_sync, drift (differs from desired) or unknown (no desired
    value). Returns the new state and whether it just became drift (``drift_since`` set now)."""
    state = "unknown" if in_sync is None else ("in_sync" if in_sync else "drift")
    row = await conn.fetchrow(
        f"""INSERT INTO {SCHEMA}.terminal_param (terminal, fn, reported, reported_at, state, drift_since)
            VALUES ($1, $2, $3::jsonb, now(), $4, CASE WHEN $4 = 'drift' THEN now() END)
            ON CONFLICT (terminal, fn) DO UPDATE SET reported = excluded.reported, reported_at = now(),
                state = excluded.state,
                drift_since = CASE WHEN excluded.state <> 'drift' THEN NULL
                                   ELSE coalesce({SCHEMA}.terminal_param.drift_since, now()) END
            RETURNING state, drift_since = reported_at AS fresh""", terminal, fn, _json(reported), state)
    assert row is not None
    return "drift_new" if row["state"] == "drift" and row["fresh"] else str(row["state"])


async def desired_of(conn: Connection, terminal: str) -> dict[int, Any]:
    rows = await conn.fetch(f"SELECT fn, desired FROM {SCHEMA}.terminal_param WHERE terminal = $1"
                            " AND desired IS NOT NULL", terminal)
    return {r["fn"]: json.loads(r["desired"]) for r in rows}


async def params_of(conn: Connection, terminal: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT fn, desired, desired_at, desired_by, reported, reported_at, state, drift_since"
        f" FROM {SCHEMA}.terminal_param WHERE terminal = $1 ORDER BY fn", terminal)
    return [_row(r) for r in rows]


async def drifting(conn: Connection, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT terminal, fn, desired, reported, reported_at, drift_since FROM {SCHEMA}.terminal_param"
        " WHERE state = 'drift' ORDER BY drift_since, terminal, fn LIMIT $1", limit)
    return [_row(r) for r in rows]


async def count_drift(conn: Connection) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.terminal_param WHERE state = 'drift'"))


async def terminals_to_check(conn: Connection, older_than_s: float, limit: int) -> list[str]:
    """Terminals with desired parameters whose last read-back is older than ``older_than_s`` (periodic drift
    check), pushes for them all finished."""
    rows = await conn.fetch(
        f"""SELECT terminal FROM {SCHEMA}.terminal_param tp
            WHERE desired IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.param_push p
                  WHERE p.terminal = tp.terminal AND p.state IN ('pending', 'sending', 'readback'))
            GROUP BY terminal
            HAVING min(coalesce(reported_at, 'epoch')) < now() - make_interval(secs => $1)
            ORDER BY min(coalesce(reported_at, 'epoch')) LIMIT $2""", older_than_s, limit)
    return [r["terminal"] for r in rows]


# -- terminals seen (first connect) ----------------------------------------------------------------------------

async def note_logins(conn: Connection, logins: Sequence[tuple[str, datetime, str]]) -> list[str]:
    """Record terminals seen online; the ones seen for the first time that master data lacks (new)."""
    rows = await conn.fetch(
        f"""INSERT INTO {SCHEMA}.terminal_registry AS r (terminal, status, first_seen, last_seen, peer, read_state)
            SELECT u.t, CASE WHEN EXISTS (SELECT 1 FROM {SCHEMA}.terminal_owner o WHERE o.terminal = u.t)
                             THEN 'known' ELSE 'new' END, u.at, u.at, u.peer,
                   CASE WHEN EXISTS (SELECT 1 FROM {SCHEMA}.terminal_owner o WHERE o.terminal = u.t)
                        THEN 'none' ELSE 'due' END
            FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(t, at, peer)
            ON CONFLICT (terminal) DO UPDATE SET last_seen = greatest(r.last_seen, excluded.last_seen),
                peer = excluded.peer
            RETURNING terminal, status, xmax = 0 AS inserted""",
        [t for t, _, _ in logins], [a for _, a, _ in logins], [p for _, _, p in logins])
    return [r["terminal"] for r in rows if r["inserted"] and r["status"] == "new"]


async def reads_due(conn: Connection, limit: int) -> list[str]:
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.terminal_registry SET read_state = 'reading'
            WHERE terminal IN (SELECT terminal FROM {SCHEMA}.terminal_registry WHERE read_state = 'due'
                               ORDER BY first_seen LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING terminal""", limit)
    return [r["terminal"] for r in rows]


async def restart_reads(conn: Connection) -> None:
    """Reads that were in progress when a replica stopped are due again."""
    await conn.execute(f"UPDATE {SCHEMA}.terminal_registry SET read_state = 'due' WHERE read_state = 'reading'")


async def note_read(conn: Connection, terminal: str, ok: bool, version: Any, config: Any, detail: str) -> None:
    await conn.execute(
        f"""UPDATE {SCHEMA}.terminal_registry SET read_state = CASE WHEN $2 THEN 'done' ELSE 'due' END,
                read_at = now(), version = coalesce($3::jsonb, version), config = coalesce($4::jsonb, config),
                read_detail = $5 WHERE terminal = $1""",
        terminal, ok, None if version is None else _json(version), None if config is None else _json(config),
        detail[:500])


async def mark_read_due(conn: Connection, terminals: Sequence[str]) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.terminal_registry SET read_state = 'due' WHERE terminal = ANY($1::text[])"
                       " AND read_state = 'failed'", list(terminals))




async def registry(conn: Connection, status: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT * FROM (SELECT terminal, {_STATUS} AS status, first_seen, last_seen, peer, read_state, read_at,"
        f" read_detail, version, config, accepted_by, accepted_at FROM {SCHEMA}.terminal_registry r) x"
        " WHERE ($1::text IS NULL OR status = $1) ORDER BY first_seen DESC LIMIT $2", status, limit)
    return [_row(r) for r in rows]


async def accept(conn: Connection, terminal: str, actor: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"UPDATE {SCHEMA}.terminal_registry SET status = 'accepted', accepted_by = $2, accepted_at = now()"
        " WHERE terminal = $1 AND status = 'new'"
        " RETURNING terminal, status, first_seen, last_seen, peer, read_state, read_at, read_detail, version, config,"
        " accepted_by, accepted_at", terminal, actor)
    return _row(row) if row else None


async def registry_status(conn: Connection, terminal: str) -> str | None:
    value = await conn.fetchval(f"SELECT {_STATUS} FROM {SCHEMA}.terminal_registry r WHERE terminal = $1",
                                terminal)
    return None if value is None else str(value)


# -- unknown meters (the concentrator has them, master data does not) -----------------------------------------

async def note_table(conn: Connection, terminal: str, records: Sequence[dict[str, Any]]) -> int:
    """A concentrator's F10 table read back: records whose pn has no active point are listed (or seen again);
    listed rows of this terminal not in the table any more are ``gone``. Returns how many are listed."""
    known = {r["pn"] for r in await conn.fetch(
        f"SELECT pn FROM {SCHEMA}.point WHERE terminal = $1 AND active", terminal)}
    unknown = [r for r in records if r["pn"] not in known and r["pn"] > 0]
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.unknown_meter AS u (terminal, pn, serial, port, protocol_code, meter_address)
            SELECT $1, * FROM unnest($2::int[], $3::int[], $4::int[], $5::int[], $6::text[])
            ON CONFLICT (terminal, pn) DO UPDATE SET serial = excluded.serial, port = excluded.port,
                protocol_code = excluded.protocol_code, meter_address = excluded.meter_address, seen_at = now(),
                state = CASE WHEN u.state = 'adopted' AND u.meter_address = excluded.meter_address THEN 'adopted'
                             ELSE 'listed' END""",
        terminal, [r["pn"] for r in unknown], [r["serial"] for r in unknown], [r["port"] for r in unknown],
        [r["protocol"] for r in unknown], [r["address"] for r in unknown])
    await conn.execute(
        f"UPDATE {SCHEMA}.unknown_meter SET state = 'gone' WHERE terminal = $1 AND state = 'listed'"
        " AND NOT (pn = ANY($2::int[]))", terminal, [r["pn"] for r in unknown])
    return len(unknown)


async def unknown_meters(conn: Connection, terminal: str | None, state: str | None, limit: int
                         ) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT terminal, pn, serial, port, protocol_code, meter_address, state, found_at, seen_at, adopted_by,"
        f" adopted_at, meter_id FROM {SCHEMA}.unknown_meter WHERE ($1::text IS NULL OR terminal = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY terminal, pn LIMIT $3", terminal, state, limit)
    return [_row(r) for r in rows]


async def take_unknown(conn: Connection, terminal: str, pn: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT terminal, pn, serial, port, protocol_code, meter_address, state FROM {SCHEMA}.unknown_meter"
        " WHERE terminal = $1 AND pn = $2 AND state = 'listed' FOR UPDATE", terminal, pn)
    return dict(row) if row else None


async def mark_adopted(conn: Connection, terminal: str, pn: int, meter_id: str, actor: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"UPDATE {SCHEMA}.unknown_meter SET state = 'adopted', adopted_by = $4, adopted_at = now(), meter_id = $3"
        " WHERE terminal = $1 AND pn = $2 RETURNING terminal, pn, serial, port, protocol_code, meter_address, state,"
        " found_at, seen_at, adopted_by, adopted_at, meter_id", terminal, pn, meter_id, actor)
    return _row(row)


# -- operator actions ---------------------------------------------------------------------------------------------

async def add_action(conn: Connection, actor: str, terminal: str, action: str, detail: dict[str, Any],
                     outcome: str = "") -> int:
    return int(await conn.fetchval(
        f"INSERT INTO {SCHEMA}.terminal_action (actor, terminal, action, detail, outcome)"
        " VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id", actor, terminal, action, _json(detail), outcome))


async def finish_action(conn: Connection, action_id: int, outcome: str) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.terminal_action SET outcome = $2, finished_at = now() WHERE id = $1",
                       action_id, outcome[:500])


async def actions(conn: Connection, terminal: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT id, at, actor, terminal, action, detail, outcome, finished_at FROM {SCHEMA}.terminal_action"
        " WHERE ($1::text IS NULL OR terminal = $1) ORDER BY id DESC LIMIT $2", terminal, limit)
    out = []
    for r in rows:
        item = _row(r)
        item["detail"] = json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]
        out.append(item)
    return out
