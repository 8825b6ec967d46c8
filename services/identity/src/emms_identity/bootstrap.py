"""First start: the built-in roles in step with the code, signing keys, the first administrator.

All under one advisory lock, so replicas starting together do it once. The first administrator,
``admin`` (role admin, unrestricted), is created only when there are no users at all: with
``EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD`` (or ``…_FILE``) as its password, or else with a
generated one written once to the log (``first admin created: username=admin password=…``) that
must be changed at the first sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from emms_db.locks import advisory_key
from emms_identity.audit import Actor, record
from emms_identity.directory.roles import sync_builtin
from emms_identity.passwords import policy
from emms_identity.repository import users
from emms_identity.runtime import IdentityRuntime

log = structlog.get_logger("emms.identity")
LOCK = advisory_key("emms.identity.bootstrap")
ADMIN = "admin"
SYSTEM = Actor("system")


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    roles_changed: list[str]
    admin_password: str | None
    """The generated password of a first admin created now (None when none was, or the password was given)."""
    admin_created: bool


async def bootstrap(rt: IdentityRuntime) -> Bootstrapped:
    given = rt.settings.bootstrap_password()
    if given is not None and (broken := policy.violations(rt.settings.passwords, given, ADMIN)):
        raise ValueError("EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD is refused by the password policy: "
                         + "; ".join(broken))
    password = given or policy.generate(rt.settings.passwords)
    password_hash = await rt.hasher.hash(password)
    async with rt.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK)
        changed = await sync_builtin(conn)
        if changed:
            await record(conn, SYSTEM, "role.sync", target=",".join(changed),
                         detail={"roles": changed, "why": "built-in roles follow the code"})
        created = await users.count(conn) == 0
        if created:
            await users.insert(conn, username=ADMIN, display_name="First administrator", password_hash=password_hash,
                               must_change_password=given is None, companies=[], regions=[], customers=[],
                               roles=[ADMIN], created_by="bootstrap", now=rt.now())
            await record(conn, SYSTEM, "user.create", target=ADMIN,
                         detail={"roles": [ADMIN], "bootstrap": True, "password_from_settings": given is not None})
    await rt.keyring.ensure()
    if created and given is None:
        log.warning(f"first admin created: username={ADMIN} password={password}"
                    " (shown once; it must be changed at the first sign-in)")
    elif created:
        log.info(f"first admin created: username={ADMIN} (password from EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD)")
    return Bootstrapped(changed, password if created and given is None else None, created)
