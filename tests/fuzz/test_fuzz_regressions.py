"""What the API fuzzer found in the archive, kept found: each case as the fuzzer sent it."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from fuzz_stack import build_app
from jsonschema import Draft202012Validator

from emms_archive.masterdata.models import Meter
from emms_bus import KafkaSettings


@pytest.mark.parametrize("ratios", [
    {"ct_ratio": 7.050345402440991e307, "pt_ratio": 3.4756582259412144e16},  # their product was infinity: a 500
    {"ct_ratio": float("nan")},
    {"multiplier": float("inf")},
    {"pt_ratio": 1e7},
])
def test_a_meter_with_ratios_beyond_any_transformer_is_refused(ratios: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Meter(id="M1", utility="electricity", protocol="other", address="1", company_id="C", **ratios)
    meter = Meter(id="M1", utility="electricity", protocol="other", address="1", company_id="C",
                  ct_ratio=8000, pt_ratio=10_000)
    assert meter.multiplier == 8e7


def test_an_import_documents_both_of_its_422_bodies() -> None:
    """A rejected import answers its report; a request that does not parse (``?dry_run=maybe``) the
    runtime's validation failure: the document names both, so each is checked against its schema."""
    document = build_app("archive", "postgresql://nobody@127.0.0.1:9/none", KafkaSettings(), Path("/x")).openapi()
    for path in ("/api/v1/import/{kind}", "/api/v1/sync/{kind}"):
        schema = document["paths"][path]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in schema["anyOf"]} == {"ImportResult", "RequestInvalid"}
    validation_failure = {"detail": "request validation failed",
                          "errors": [{"loc": ["query", "dry_run"], "msg": "not a boolean", "type": "bool_parsing"}]}
    report = {"kind": "customers", "rows": 1, "records": 1, "accepted": False, "dry_run": False, "changes": 0,
              "by_entity": {}, "detail": "rejected", "errors": []}
    validator = Draft202012Validator({**schema, "components": document["components"]})
    for body in (validation_failure, report):
        validator.validate(body)
    assert not validator.is_valid({"detail": [{"loc": ["query"], "msg": "FastAPI's default", "type": "x"}]})
