"""The truth HTTP API and the manifest: values equal the truth, bad input is a 4xx."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from emms_sim.cli import main
from emms_sim.fleet import FleetConfig
from emms_sim.http_api import create_app
from emms_sim.manifest import write_manifest
from emms_sim.truth import GroundTruth

TRUTH = GroundTruth(FleetConfig(seed=5, concentrators=3, meters_per=8))
CLIENT = TestClient(create_app(TRUTH))
AT = "2026-11-20T10:00:00+08:00"


def test_truth_endpoint_matches_the_library() -> None:
    r = CLIENT.get("/truth", params={"meter": "m-000001-0002", "item": "energy.active.import.total", "at": AT})
    body = r.json()
    assert r.status_code == 200
    from emms_sim.calendar import parse_instant

    assert body["value"] == TRUTH.truth("m-000001-0002", "energy.active.import.total", parse_instant(AT)) \
        or TRUTH.meter("m-000001-0002").utility != "electricity"
    every = CLIENT.get("/truth", params={"meter": "m-000001-0002", "at": AT}).json()
    assert every["present"] and isinstance(every["values"], dict)


def test_meters_frozen_events_items() -> None:
    meters = CLIENT.get("/meters", params={"limit": 5}).json()
    assert len(meters["meters"]) == 5 and meters["next_offset"] is not None
    rest = CLIENT.get("/meters", params={"offset": meters["next_offset"], "limit": 100}).json()
    assert len(meters["meters"]) + len(rest["meters"]) == 3 * 9
    frozen = CLIENT.get("/frozen", params={"meter": "m-000000-0001", "date": "2026-11-19"}).json()
    assert frozen["instant"] == "2026-11-19T16:00:00+00:00"
    assert CLIENT.get("/events", params={"terminal": 0, "since": "2026-10-01T00:00:00Z",
                                         "until": "2026-10-30T00:00:00Z"}).status_code == 200
    assert "water.volume" in CLIENT.get("/items").json()


def test_bad_requests_are_4xx() -> None:
    assert CLIENT.get("/truth", params={"meter": "m-999999-0001"}).status_code == 404
    assert CLIENT.get("/truth", params={"meter": "nonsense"}).status_code == 404
    assert CLIENT.get("/truth", params={"meter": "m-000000-0001", "item": "bogus"}).status_code == 422
    assert CLIENT.get("/truth", params={"meter": "m-000000-0001", "at": "yesterday"}).status_code == 422
    assert CLIENT.get("/frozen", params={"meter": "m-000000-0001", "date": "2026-13-01"}).status_code == 422
    assert CLIENT.get("/events", params={"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"}
                      ).status_code == 422
    assert CLIENT.get("/meters", params={"terminal": 9}).status_code == 404


def test_manifest_lists_every_terminal_and_meter(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    write_manifest(TRUTH.fleet, path)
    doc = json.loads(path.read_text())
    assert [t["key"] for t in doc["terminals"]] == ["3701-00001", "1101-00002", "3201-00003"]
    meter = doc["terminals"][0]["meters"][0]
    assert {"pn", "meter_id", "utility", "protocol", "address", "port"} <= set(meter)
    assert len(doc["terminals"][0]["meters"]) == 9  # 8 + one spare point added later


def test_cli_truth_prints_json(capsys: object) -> None:
    assert main(["truth", "m-000000-0001", "energy.active.import.total", AT, "--seed", "5", "--concentrators", "3",
                 "--meters-per", "8"]) == 0
    out = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert out["meter"] == "m-000000-0001"
    assert main(["truth", "m-000009-0001", "water.volume", AT]) == 1
