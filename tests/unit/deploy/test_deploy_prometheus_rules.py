"""Alert rules: promtool accepts them and their unit tests pass; every alert is tested and has a runbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_harness import DEPLOY, REPO

PROM = DEPLOY / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yaml"))
PENDING = sorted((PROM / "pending").glob("*.yaml"))
TESTS = sorted((PROM / "tests").glob("*.yaml"))
NO_PROMTOOL = "promtool not found (set PROMTOOL or put it on PATH; `make k8s-check` unpacks Debian's `prometheus`)"


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    exe = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if exe is None:
        pytest.skip(NO_PROMTOOL)
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def alerts(paths: list[Path]) -> dict[str, dict[str, object]]:
    return {r["alert"]: r for p in paths for g in yaml.safe_load(p.read_text())["groups"]
            for r in g["rules"] if "alert" in r}


def test_promtool_checks_the_rules() -> None:
    out = promtool("check", "rules", *map(str, RULES + PENDING))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_unit_tests_pass() -> None:
    out = promtool("test", "rules", *map(str, TESTS))
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested = {name for t in TESTS for name in re.findall(r"alertname:\s*(\w+)", t.read_text())}
    assert set(alerts(RULES)) - tested == set()


def test_every_rule_file_is_exercised_by_a_test_file() -> None:
    used = {Path(f).name for t in TESTS for f in yaml.safe_load(t.read_text())["rule_files"]}
    assert {r.name for r in RULES} <= used


def _anchors(markdown: str) -> set[str]:
    heads = re.findall(r"^#+\s+(.+)$", markdown, re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    anchors = _anchors((REPO / "docs" / "operations.md").read_text())
    for name, rule in alerts(RULES + PENDING).items():
        labels, notes = rule.get("labels", {}), rule.get("annotations", {})
        assert isinstance(labels, dict) and labels.get("severity") in ("warning", "critical"), name
        assert isinstance(notes, dict) and notes.get("summary"), name
        runbook = str(notes.get("runbook", ""))
        assert runbook.startswith("docs/operations.md#"), name
        assert runbook.split("#", 1)[1] in anchors, f"{name}: docs/operations.md has no section #{runbook}"
