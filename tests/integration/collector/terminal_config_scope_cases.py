"""Scope cases of ``/api/v1/terminal-config`` for ``test_collector_scope`` (its world: company A's terminal ``TA``,
company B's callers, a FEP stand-in that answers no parameter read, so a read of A's terminal is a 504).

Per-terminal routes: A reaches its terminal, B is refused with 403 (a push addressed by id: 404). The lists
across terminals are for callers without company restriction: a restricted caller gets 403 without
``terminal`` (a new terminal belongs to no company yet), its own terminal's rows with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

CFG = "/api/v1/terminal-config"
F1 = {"rts_20ms": 0, "master_delay_min": 1, "response_timeout_s": 20, "resend_count": 2, "confirm_class1": True,
      "confirm_class2": False, "confirm_class3": True, "heartbeat_min": 3}
Case = Callable[[Any], Awaitable[None]]


def terminal_config_cases(a: dict[str, str], b: dict[str, str], admin: dict[str, str], ta: str) -> dict[str, Case]:
    def step_up(company: str) -> dict[str, str]:
        token = issue_token(AuthSettings(), f"op-{company}", "operator", companies=(company,), step_up=True)
        return {"Authorization": f"Bearer {token}"}

    async def one_terminal(w: Any, method: str, url: str, ok: int, **kw: Any) -> None:
        mine = await w.call(a, method, url, **kw)
        assert mine.status_code == ok, mine.text
        refused = await w.call(b, method, url, **kw)
        assert refused.status_code == 403 and ta in refused.json()["detail"], refused.text

    async def listing(w: Any, url: str) -> None:
        assert (await w.call(a, "GET", url)).status_code == 403
        assert (await w.call(admin, "GET", url)).status_code == 200
        if url.endswith(("pushes", "unknown-meters", "actions")):
            assert (await w.call(a, "GET", url, params={"terminal": ta})).status_code == 200
            assert (await w.call(b, "GET", url, params={"terminal": ta})).status_code == 403

    async def params(w: Any) -> None:
        await one_terminal(w, "GET", f"{CFG}/terminals/{ta}", 200)

    async def set_param(w: Any) -> None:
        await one_terminal(w, "PUT", f"{CFG}/terminals/{ta}/params/1", 202, json={"value": F1})

    async def push(w: Any) -> None:
        made = await w.call(a, "PUT", f"{CFG}/terminals/{ta}/params/1", json={"value": F1})
        assert made.status_code == 202, made.text
        url = f"{CFG}/pushes/{made.json()['id']}"
        assert (await w.call(a, "GET", url)).status_code == 200
        assert (await w.call(b, "GET", url)).status_code == 404

    async def check(w: Any) -> None:
        await one_terminal(w, "POST", f"{CFG}/terminals/{ta}/check", 504)

    async def table_read(w: Any) -> None:
        await one_terminal(w, "POST", f"{CFG}/terminals/{ta}/table/read", 504)

    async def tariff(w: Any) -> None:  # never read here (the terminal is not online): 409 with the reason
        await one_terminal(w, "GET", f"{CFG}/terminals/{ta}/tariff", 409)

    async def tariff_read(w: Any) -> None:
        await one_terminal(w, "POST", f"{CFG}/terminals/{ta}/tariff/read", 504)

    async def adopt(w: Any) -> None:
        await one_terminal(w, "POST", f"{CFG}/unknown-meters/{ta}/7/adopt", 404, json={"meter_id": "m-x"})

    async def accept(w: Any) -> None:
        assert (await w.call(a, "POST", f"{CFG}/registered/{ta}/accept")).status_code == 403
        assert (await w.call(admin, "POST", f"{CFG}/registered/{ta}/accept")).status_code in (404, 409)

    async def reset(w: Any) -> None:
        mine = await w.call(step_up("A"), "POST", f"{CFG}/terminals/{ta}/reset", json={"kind": "hardware"})
        assert mine.status_code == 200, mine.text
        refused = await w.call(step_up("B"), "POST", f"{CFG}/terminals/{ta}/reset", json={"kind": "hardware"})
        assert refused.status_code == 403, refused.text

    async def pushes(w: Any) -> None:
        await listing(w, f"{CFG}/pushes")

    async def drift(w: Any) -> None:
        await listing(w, f"{CFG}/drift")

    async def registered(w: Any) -> None:
        await listing(w, f"{CFG}/registered")

    async def unknown(w: Any) -> None:
        await listing(w, f"{CFG}/unknown-meters")

    async def actions(w: Any) -> None:
        await listing(w, f"{CFG}/actions")

    return {
        f"GET {CFG}/terminals/{{terminal}}": params,
        f"PUT {CFG}/terminals/{{terminal}}/params/{{fn}}": set_param,
        f"GET {CFG}/pushes": pushes,
        f"GET {CFG}/pushes/{{push_id}}": push,
        f"POST {CFG}/terminals/{{terminal}}/check": check,
        f"GET {CFG}/drift": drift,
        f"GET {CFG}/registered": registered,
        f"POST {CFG}/registered/{{terminal}}/accept": accept,
        f"POST {CFG}/terminals/{{terminal}}/table/read": table_read,
        f"GET {CFG}/terminals/{{terminal}}/tariff": tariff,
        f"POST {CFG}/terminals/{{terminal}}/tariff/read": tariff_read,
        f"GET {CFG}/unknown-meters": unknown,
        f"POST {CFG}/unknown-meters/{{terminal}}/{{pn}}/adopt": adopt,
        f"POST {CFG}/terminals/{{terminal}}/reset": reset,
        f"GET {CFG}/actions": actions,
    }
