"""Users and their roles: lookups, listing in scope, writes, the failed-sign-in counter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where
from emms_identity.model import User
from emms_identity.schema import SCHEMA

_SELECT = (f"SELECT u.*, ARRAY(SELECT role FROM {SCHEMA}.user_roles r WHERE r.user_id = u.id ORDER BY role)"
           f" AS roles FROM {SCHEMA}.users u")
_EDITABLE = {"display_name", "companies", "regions", "customers", "disabled", "must_change_password"}


async def by_username(conn: Connection, username: str) -> User | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE lower(u.username) = lower($1)", username)
    return User.from_row(row) if row else None


async def by_id(conn: Connection, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
    lock = " FOR UPDATE OF u" if for_update else ""
    row = await conn.fetchrow(f"{_SELECT} WHERE u.id = $1{lock}", user_id)
    return User.from_row(row) if row else None


async def count(conn: Connection) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.users")
    return value


async def listing(conn: Connection, *, within: Mapping[str, Sequence[str]], company: str | None, role: str | None,
                  disabled: bool | None, search: str | None, after: str | None, limit: int) -> list[User]:
    """Users in username order; ``within`` (a restricted reader's ``companies`` / ``regions`` /
    ``customers``): only users whose values of each restricted kind are all among the reader's."""
    where = Where()
    for column, values in within.items():
        if values and column in ("companies", "regions", "customers"):
            where.add(f"cardinality(u.{column}) > 0 AND u.{column} <@ {{}}::text[]", list(values))
    where.add_if("{} = ANY(u.companies)", company)
    where.add_if(f"EXISTS (SELECT 1 FROM {SCHEMA}.user_roles r WHERE r.user_id = u.id AND r.role = {{}})", role)
    where.add_if("u.disabled = {}", disabled)
    if search:
        where.add("(u.username ILIKE {0} OR u.display_name ILIKE {0})", f"%{_escape_like(search)}%")
    where.add_if("lower(u.username) > lower({})", after)
    rows = await conn.fetch(f"{_SELECT} WHERE {where.sql()} ORDER BY lower(u.username) LIMIT {int(limit)}",
                            *where.args)
    return [User.from_row(r) for r in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def insert(conn: Connection, *, username: str, display_name: str, password_hash: str,
                 must_change_password: bool, companies: list[str], regions: list[str], customers: list[str],
                 roles: list[str], created_by: str, now: datetime) -> uuid.UUID:
    user_id: uuid.UUID = await conn.fetchval(
        f"INSERT INTO {SCHEMA}.users (username, display_name, password_hash, must_change_password, companies,"
        " regions, customers, created_by, created_at, updated_at, password_changed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING id",
        username, display_name, password_hash, must_change_password, companies, regions, customers,
        created_by, now)
    await set_roles(conn, user_id, roles, granted_by=created_by)
    return user_id


async def username_taken(conn: Connection, username: str) -> bool:
    return bool(await conn.fetchval(f"SELECT 1 FROM {SCHEMA}.users WHERE lower(username) = lower($1)", username))


async def update(conn: Connection, user_id: uuid.UUID, now: datetime, **fields: Any) -> None:
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if not fields:
        return
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE {SCHEMA}.users SET {sets}, updated_at = $2 WHERE id = $1",
                       user_id, now, *[fields[n] for n in names])


async def set_roles(conn: Connection, user_id: uuid.UUID, roles: list[str], *, granted_by: str) -> None:
    await conn.execute(f"DELETE FROM {SCHEMA}.user_roles WHERE user_id = $1 AND NOT (role = ANY($2::text[]))",
                       user_id, roles)
    await conn.execute(f"INSERT INTO {SCHEMA}.user_roles (user_id, role, granted_by)"
                       " SELECT $1, unnest($2::text[]), $3 ON CONFLICT DO NOTHING", user_id, roles, granted_by)


async def set_password(conn: Connection, user_id: uuid.UUID, password_hash: str, *, keep_history: int,
                       must_change: bool, now: datetime) -> None:
    """New hash; the old one goes to the front of the history (``keep_history`` kept)."""
    await conn.execute(
        f"UPDATE {SCHEMA}.users SET password_history = (ARRAY[password_hash] || password_history)[1:$3],"
        " password_hash = $2, must_change_password = $4, password_changed_at = $5, updated_at = $5,"
        " failed_signins = 0, failed_since = NULL, locked_until = NULL WHERE id = $1",
        user_id, password_hash, keep_history, must_change, now)


async def record_failure(conn: Connection, user_id: uuid.UUID, *, now: datetime, window: timedelta,
                         max_failures: int, lock_for: timedelta) -> tuple[int, datetime | None]:
    """Count one wrong password within the window; lock at ``max_failures``.
    (failures counted, locked until — None when not locked by this one)."""
    async with conn.transaction():
        failures: int = await conn.fetchval(
            f"UPDATE {SCHEMA}.users SET"
            " failed_signins = CASE WHEN failed_since IS NULL OR failed_since < $2 THEN 1"
            " ELSE failed_signins + 1 END,"
            " failed_since = CASE WHEN failed_since IS NULL OR failed_since < $2 THEN $3 ELSE failed_since END"
            " WHERE id = $1 RETURNING failed_signins", user_id, now - window, now)
        if failures < max_failures:
            return failures, None
        until = now + lock_for
        await conn.execute(f"UPDATE {SCHEMA}.users SET locked_until = $2, failed_signins = 0, failed_since = NULL"
                           " WHERE id = $1", user_id, until)
        return failures, until


async def record_success(conn: Connection, user_id: uuid.UUID, *, now: datetime, rehash: str | None) -> None:
    await conn.execute(
        f"UPDATE {SCHEMA}.users SET failed_signins = 0, failed_since = NULL, locked_until = NULL,"
        " last_signin_at = $2, password_hash = COALESCE($3, password_hash) WHERE id = $1", user_id, now, rehash)


async def unlock(conn: Connection, user_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.users SET locked_until = NULL, failed_signins = 0, failed_since = NULL,"
                       " updated_at = $2 WHERE id = $1", user_id, now)


async def holders_of(conn: Connection, role: str) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.user_roles WHERE role = $1", role)
    return value
