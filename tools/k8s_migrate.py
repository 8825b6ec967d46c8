"""Migrate every EMMS schema once: the Kubernetes Job of a release (deploy/k8s/base/migrate).

    python /opt/emms/lib/k8s_migrate.py          # in the image; EMMS_DATABASE_URL from CloudNativePG's Secret

Runs each service's migrations in the order the services depend on each other (identity first,
the archive before the collector and FEP that read its published views), one schema after the
other, with ``emms_db.migrate`` — which takes the schema's advisory lock, so a service replica that
starts meanwhile and migrates on its own (``migrate_on_start``) waits and then finds nothing to do.
Exit 0 when every schema is current, 1 (the Job retries) on the first failure.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path

from emms_db import migrate_url

PACKAGES = ("emms_identity", "emms_archive", "emms_fep", "emms_collector", "emms_validator", "emms_control",
            "emms_analytics", "emms_operations", "emms_reports",
            "emms_interface")
"""In the order ``make up`` migrates them (tools/devstack): identity, then the archive, then the rest."""


def schemas() -> list[tuple[str, Path]]:
    """(schema, migrations directory) of every service, from its ServiceSpec."""
    out = []
    for package in PACKAGES:
        spec = importlib.import_module(f"{package}.app").SPEC
        if spec.schema and spec.migrations:
            out.append((str(spec.schema), Path(spec.migrations)))
    return out


async def run(url: str) -> int:
    for schema, directory in schemas():
        try:
            report = await migrate_url(url, schema, directory)
        except Exception as exc:
            print(f"migrate {schema}: FAILED: {exc!r}", flush=True)
            return 1
        print(f"migrate {schema}: applied {len(report.applied)}, skipped {len(report.skipped)}", flush=True)
    return 0


def main() -> int:
    url = os.environ.get("EMMS_DATABASE_URL")
    if not url:
        print("EMMS_DATABASE_URL is not set", file=sys.stderr)
        return 2
    return asyncio.run(run(url))


if __name__ == "__main__":
    sys.exit(main())
