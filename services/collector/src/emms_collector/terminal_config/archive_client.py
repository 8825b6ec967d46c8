"""Writing what an operator accepts into the archive's master data, on the operator's own authority.

Accepting a new terminal creates it in the archive (``POST /api/v1/terminals``: its address and what it
reported at its first login — vendor, firmware, hardware version — with the company and region the operator
names); adopting a meter a concentrator holds creates the customer, metering point, meter and installation
(``POST /api/v1/import/customer-meters``, one row). The collector forwards the caller's bearer token, so the
archive checks the caller's permission and company scope and records the caller in its audit log; the
archive then publishes the change on ``emms.masterdata.change.v1`` like any other, and the collector's own
master-data consumers take it from there (the point, the automatic tasks, the F10 record).

A refusal of the archive is the caller's answer (its status and reason); an archive that cannot be reached
is a 503.
"""

from __future__ import annotations

from typing import Any

import httpx

from emms_runtime import BadRequest, Conflict, Forbidden, Invalid, NotFound, Unavailable


class ArchiveClient:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(base_url=base_url, timeout=30.0)

    async def post(self, path: str, body: Any, authorization: str) -> dict[str, Any]:
        try:
            resp = await self.client.post(path, json=body, headers={"Authorization": authorization})
        except httpx.HTTPError as exc:
            raise Unavailable(f"the archive could not be reached: {exc!r}") from None
        try:
            answer = resp.json()
        except ValueError:
            answer = {"detail": resp.text[:300]}
        if resp.status_code < 300:
            return answer if isinstance(answer, dict) else {"body": answer}
        reason = f"the archive refused it ({resp.status_code}): {_reason(answer)}"
        raise {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}.get(resp.status_code, Invalid)(reason) \
            if resp.status_code < 500 else Unavailable(reason)

    async def close(self) -> None:
        await self.client.aclose()


def _reason(answer: Any) -> str:
    if isinstance(answer, dict):
        detail = answer.get("detail") or answer.get("errors") or answer
        return str(detail)[:500]
    return str(answer)[:500]
