"""Incremental sync from a source system: upserts by external id, and removals (R-4.6.4).

A sync message carries what changed since the last one::

    {"upserts": [{...}, ...], "removals": ["M-001", ...]}

It goes through the same checks as an import and is applied all or nothing, so a source
system can resend a sync it is unsure about: records already as given and removals already
done change nothing.
"""

from __future__ import annotations

from typing import Any

from emms_archive.masterdata.batch import Batch
from emms_archive.masterdata.entities import BY_PATH
from emms_archive.masterdata.import_batch import CUSTOMER_METERS, BadImport, Removal, build_batch


def parse_sync(kind: str, body: Any) -> tuple[Batch, list[Removal]]:
    """The batch of upserts and the list of removals of one sync body."""
    if not isinstance(body, dict) or not set(body) <= {"upserts", "removals"}:
        raise BadImport('a sync body is an object with "upserts" (list of records) and/or "removals" (list of ids)')
    upserts = body.get("upserts") or []
    removals = body.get("removals") or []
    if not isinstance(upserts, list) or not all(isinstance(r, dict) for r in upserts):
        raise BadImport('"upserts" must be a list of objects')
    if not isinstance(removals, list) or not all(isinstance(r, str) and r for r in removals):
        raise BadImport('"removals" must be a list of ids (composite keys joined with "/")')
    if removals and kind == CUSTOMER_METERS:
        raise BadImport("customer-meters rows cannot be removed as a bundle; remove meters, points or customers")
    batch = build_batch(kind, [{k: v for k, v in r.items() if v is not None} for r in upserts])
    gone: list[Removal] = []
    if removals:
        spec = BY_PATH[kind]
        for offset, text in enumerate(removals, start=len(upserts) + 1):
            key = tuple(text.split("/"))
            if len(key) != len(spec.key):
                shape = "/".join(spec.key)
                raise BadImport(f"removal {text!r}: a {spec.name} key has {len(spec.key)} part(s): {shape}")
            gone.append((spec, key, offset))
        batch.rows += len(removals)
    return batch, gone
