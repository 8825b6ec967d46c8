"""docs/traceability.md stays true: every requirement has a row, statuses are valid, paths exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TRACE = REPO / "docs" / "traceability.md"
SPEC = REPO.parent / "shared" / "spec" / "functions.md"
ROW = re.compile(r"^\| (R-[0-9.]+[a-z]?) \| (.*?) \| (.*?) \| (.*?) \| (\S+) \|$", re.M)


def _rows() -> dict[str, tuple[str, str, str]]:
    return {m.group(1): (m.group(3), m.group(4), m.group(5)) for m in ROW.finditer(TRACE.read_text())}


def test_every_requirement_of_the_standard_has_one_row() -> None:
    if not SPEC.exists():
        pytest.skip(f"the spec is not beside this clone ({SPEC})")
    wanted = set(re.findall(r"^\| (R-[0-9.]+[a-z]?) \|", SPEC.read_text(), re.M))
    assert wanted - set(_rows()) == set()


def test_status_words_are_exact() -> None:
    rows = _rows()
    assert rows
    bad = {rid: s for rid, (_, _, s) in rows.items() if s not in ("missing", "partial", "done")}
    assert bad == {}


def test_named_paths_exist_and_done_rows_name_code_and_tests() -> None:
    for rid, (code, test, status) in _rows().items():
        paths = re.findall(r"`([^`]+)`", code + " " + test)
        for p in paths:
            target = p.split("::")[0]
            assert (REPO / target).exists(), f"{rid}: {target} does not exist"
        if status == "done":
            assert "tests/" in test and "`" in code, f"{rid} is done but names no code or test"
