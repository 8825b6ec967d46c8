"""Bus payload schemas cannot change without a version bump."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from emms_messages.readings import Reading
from emms_messages.snapshots import missing_snapshots, unversioned_changes, write_missing
from emms_messages.topics import all_payload_models

SNAPSHOTS = Path(__file__).parent / "snapshots"


def test_every_payload_has_a_snapshot() -> None:
    missing = missing_snapshots(all_payload_models(), SNAPSHOTS)
    assert not missing, f"new payload versions: run tools/update_schema_snapshots.py ({missing})"


def test_no_payload_changed_without_a_version_bump() -> None:
    assert unversioned_changes(all_payload_models(), SNAPSHOTS) == []


def test_an_unversioned_change_is_detected(tmp_path: Path) -> None:
    write_missing([Reading], tmp_path)

    class ReadingWithExtraField(Reading):  # same name and version, one more field
        SCHEMA_NAME = Reading.SCHEMA_NAME
        SCHEMA_VERSION = Reading.SCHEMA_VERSION
        phase: str = Field(default="A")

    assert unversioned_changes([ReadingWithExtraField], tmp_path) != []

    class ReadingV2(ReadingWithExtraField):
        SCHEMA_VERSION = Reading.SCHEMA_VERSION + 1

    assert unversioned_changes([ReadingV2], tmp_path) == []
    assert missing_snapshots([ReadingV2], tmp_path) == ["reading.v2.json"]
