"""JSON-schema snapshots of the bus payloads: a changed schema needs a new version.

A snapshot is stored per ``(schema name, version)``. For each payload model:
no snapshot yet → write it (a new schema or a bumped version); a snapshot that
differs from the model → the schema was changed without a version bump, which
would break consumers that still read the old version: refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emms_messages.envelope import Payload


def snapshot_name(model: type[Payload]) -> str:
    return f"{model.SCHEMA_NAME}.v{model.SCHEMA_VERSION}.json"


def schema_of(model: type[Payload]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def unversioned_changes(models: list[type[Payload]], directory: Path) -> list[str]:
    """Names of models whose schema differs from their stored snapshot."""
    changed = []
    for model in models:
        path = directory / snapshot_name(model)
        if path.exists() and json.loads(path.read_text(encoding="utf-8")) != schema_of(model):
            changed.append(f"{model.__name__} ({snapshot_name(model)})")
    return changed


def missing_snapshots(models: list[type[Payload]], directory: Path) -> list[str]:
    return [snapshot_name(m) for m in models if not (directory / snapshot_name(m)).exists()]


def write_missing(models: list[type[Payload]], directory: Path) -> list[str]:
    """Write snapshots for new (name, version) pairs only; never overwrite."""
    written = []
    for name in missing_snapshots(models, directory):
        model = next(m for m in models if snapshot_name(m) == name)
        (directory / name).write_text(json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")
        written.append(name)
    return written
