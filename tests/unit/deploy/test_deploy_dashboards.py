"""Dashboards are well-formed and reference the provisioned data sources; provisioning points at them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_harness import DEPLOY

GRAFANA = DEPLOY / "grafana"
FILES = sorted((GRAFANA / "dashboards").glob("*/*.json"))


def provisioned_datasources() -> dict[str, str]:
    out = {}
    for path in (GRAFANA / "provisioning/datasources").glob("*.yaml"):
        for ds in yaml.safe_load(path.read_text())["datasources"]:
            out[ds["uid"]] = ds["type"]
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dashboard_is_well_formed(path: Path) -> None:
    data: dict[str, Any] = json.loads(path.read_text())
    panels = data["panels"]
    assert data["uid"] and data["title"] and data["schemaVersion"] >= 39
    assert len({p["id"] for p in panels}) == len(panels), "duplicate panel ids"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
    sources = provisioned_datasources()
    for p in panels:
        if "datasource" in p:
            assert sources.get(p["datasource"]["uid"]) == p["datasource"]["type"], p["title"]
        for t in p.get("targets", []):
            assert t["refId"], p["title"]


def test_uids_are_unique_and_folders_are_provisioned() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in FILES]
    assert len(set(uids)) == len(uids)
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/emms.yaml").read_text())["providers"][0]
    assert provider["options"]["foldersFromFilesStructure"] is True
    kustomization = yaml.safe_load((GRAFANA / "kustomization.yaml").read_text())
    packed = {f for g in kustomization["configMapGenerator"] for f in g["files"]}
    assert packed == {str(p.relative_to(GRAFANA)) for p in FILES}
