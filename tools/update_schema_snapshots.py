"""Write JSON-schema snapshots for new bus payload versions (never overwrites).

    .venv/bin/python tools/update_schema_snapshots.py
"""

from __future__ import annotations

from pathlib import Path

from emms_messages.snapshots import unversioned_changes, write_missing
from emms_messages.topics import all_payload_models

SNAPSHOTS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "messages" / "snapshots"

if __name__ == "__main__":
    models = all_payload_models()
    changed = unversioned_changes(models, SNAPSHOTS)
    if changed:
        raise SystemExit(f"changed without a version bump (bump SCHEMA_VERSION): {', '.join(changed)}")
    for name in write_missing(models, SNAPSHOTS):
        print(f"wrote {name}")
