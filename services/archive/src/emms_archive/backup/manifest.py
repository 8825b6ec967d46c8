"""The manifest of a backup directory: what it holds, how it was made, and its checksums.

``manifest.json`` lists every file with its SHA-256 and size, and every table with its row
count and row checksum at backup time; ``verify`` recomputes both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

FORMAT = 1
NAME = "manifest.json"


@dataclass
class Manifest:
    level: str  # "system" or "application"
    method: str  # "pg_dump" or "copy"
    created_at: str
    database: str
    storage_mode: str
    migrations: list[str]
    companies: list[str] | None = None
    start: str | None = None
    end: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = FORMAT
    note: str = ""
    timescaledb_version: str | None = None
    """The extension's version when the database was on TimescaleDB (a restore needs the same)."""

    def write(self, directory: Path) -> Path:
        path = directory / NAME
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / NAME
        if not path.is_file():
            raise FileNotFoundError(f"{directory} has no {NAME}: not a backup directory")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: backup format {data.get('format')} is not {FORMAT}")
        return cls(**data)

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        return (datetime.fromisoformat(self.start) if self.start else None,
                datetime.fromisoformat(self.end) if self.end else None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(directory: Path) -> dict[str, dict[str, Any]]:
    return {str(p.relative_to(directory)): {"sha256": sha256_of(p), "bytes": p.stat().st_size}
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != NAME}


def verify_files(directory: Path, manifest: Manifest) -> list[str]:
    """Problems with the files (missing, changed, extra); empty when every file is as recorded."""
    problems = []
    actual = describe_files(directory)
    for name, info in manifest.files.items():
        if name not in actual:
            problems.append(f"{name}: missing")
        elif actual[name]["sha256"] != info["sha256"]:
            problems.append(f"{name}: SHA-256 differs (the file changed since the backup)")
    problems += [f"{name}: not in the manifest" for name in actual if name not in manifest.files]
    return problems
