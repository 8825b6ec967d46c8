"""Vendor the custom resources' JSON Schemas from the operators' own CRD files.

    .venv/bin/python tools/k8s_vendor_schemas.py          # rewrite deploy/k8s/schemas/*.json

Needs local git mirrors of the operators' repositories (``MIRRORS``; bring one with any git
clone, e.g. ``git clone --mirror https://github.com/strimzi/strimzi-kafka-operator``); the tests
never run this: they read the committed JSON files, so ``make k8s-check`` stays offline.

Each CRD version's ``openAPIV3Schema`` becomes a draft 2020-12 JSON Schema:
descriptions dropped (size), ``nullable`` turned into a ``null`` type, ``x-kubernetes-int-or-string``
into ``integer | string``, and every object that lists its ``properties`` closed with
``additionalProperties: false`` unless it preserves unknown fields — the API server would prune
an unknown field silently (a typo that does nothing); here it fails. ``apiVersion`` and ``kind``
are pinned to the CRD's, ``metadata.name`` is required, and the Strimzi kinds the cluster operator
would ignore without their ``strimzi.io/cluster`` label require it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "deploy" / "k8s" / "schemas"
MIRRORS = Path("/work/.mirror")


@dataclass(frozen=True)
class Source:
    repo: str          # owner/name on GitHub
    ref: str           # the release tag the schema is taken from
    path: str          # the CRD file in that repository
    version: str       # the served version vendored
    cluster_label: bool = False


SOURCES = (
    Source("strimzi/strimzi-kafka-operator", "1.2.0", "packaging/install/cluster-operator/040-Crd-kafka.yaml", "v1"),
    Source("strimzi/strimzi-kafka-operator", "1.2.0", "packaging/install/cluster-operator/045-Crd-kafkanodepool.yaml",
           "v1", cluster_label=True),
    Source("strimzi/strimzi-kafka-operator", "1.2.0", "packaging/install/cluster-operator/043-Crd-kafkatopic.yaml",
           "v1", cluster_label=True),
    Source("strimzi/strimzi-kafka-operator", "1.2.0", "packaging/install/cluster-operator/044-Crd-kafkauser.yaml",
           "v1", cluster_label=True),
    Source("kedacore/keda", "v2.20.2", "config/crd/bases/keda.sh_scaledobjects.yaml", "v1alpha1"),
    Source("kedacore/keda", "v2.20.2", "config/crd/bases/keda.sh_triggerauthentications.yaml", "v1alpha1"),
    Source("cloudnative-pg/cloudnative-pg", "v1.30.0", "config/crd/bases/postgresql.cnpg.io_clusters.yaml", "v1"),
    Source("cloudnative-pg/cloudnative-pg", "v1.30.0", "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml",
           "v1"),
    Source("cloudnative-pg/plugin-barman-cloud", "v0.14.0", "config/crd/bases/barmancloud.cnpg.io_objectstores.yaml",
           "v1"),
    Source("prometheus-operator/prometheus-operator", "v0.93.0",
           "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml", "v1"),
    Source("prometheus-operator/prometheus-operator", "v0.93.0",
           "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml", "v1"),
)


def convert(node: Any) -> Any:
    """One OpenAPI v3 (structural, Kubernetes-flavoured) schema node → JSON Schema."""
    if isinstance(node, list):
        return [convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
                   "x-kubernetes-validations", "example", "externalDocs"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {k: convert(v) for k, v in value.items()}
        elif (key in ("items", "additionalProperties", "not") and isinstance(value, dict)) or key in (
                "allOf", "anyOf", "oneOf"):
            out[key] = convert(value)
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def schema_of(crd: dict[str, Any], source: Source) -> dict[str, Any]:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == source.version]
    assert version["served"], f"{kind} {source.version} is not served by {source.repo} {source.ref}"
    schema = convert(version["schema"]["openAPIV3Schema"])
    labels: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
    metadata: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"},
                       "labels": labels, "annotations": {"type": "object",
                                                         "additionalProperties": {"type": "string"}}},
    }
    if source.cluster_label:
        metadata["required"] = ["name", "labels"]
        labels["required"] = ["strimzi.io/cluster"]
    props = schema["properties"]
    props["apiVersion"] = {"const": f"{group}/{source.version}"}
    props["kind"] = {"const": kind}
    props["metadata"] = metadata
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"{kind} {group}/{source.version} from github.com/{source.repo} {source.ref} {source.path} "
                    "(tools/k8s_vendor_schemas.py)",
        **schema,
        "required": sorted({"apiVersion", "kind", "metadata", *schema.get("required", [])}),
    }


def file_name(schema: dict[str, Any]) -> str:
    group, version = schema["properties"]["apiVersion"]["const"].split("/")
    return f"{schema['properties']['kind']['const'].lower()}-{group}-{version}.json"


def main() -> int:
    written = []
    for source in SOURCES:
        mirror = MIRRORS / source.repo.replace("/", "+") / "repo"
        text = subprocess.run(["git", "-C", str(mirror), "show", f"{source.ref}:{source.path}"], check=True,
                              capture_output=True, text=True).stdout
        schema = schema_of(yaml.safe_load(text), source)
        name = file_name(schema)
        (OUT / name).write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n")
        written.append(name)
    print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
