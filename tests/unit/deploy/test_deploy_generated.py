"""Generated files are not stale: each generator re-renders in memory and must match what is committed."""

from __future__ import annotations

import yaml
from deploy_harness import DEPLOY, REPO, load_script

from emms_bus.admin import DLQ_PARTITIONS
from emms_messages.topics import TOPICS

FIX = "regenerate with: .venv/bin/python {}"


def test_kafka_topics_are_not_stale() -> None:
    gen = load_script("tools/gen_k8s_topics.py")
    assert gen.OUTPUT.read_text() == gen.render(), FIX.format("tools/gen_k8s_topics.py")


def test_kafka_topics_cover_the_topic_table_and_dead_letter_topics() -> None:
    gen = load_script("tools/gen_k8s_topics.py")
    topics = {d["metadata"]["name"]: d for d in yaml.safe_load_all(gen.OUTPUT.read_text()) if d}
    assert set(topics) == {n for t in TOPICS.values() for n in (t.name, t.dlq)}
    for t in TOPICS.values():
        spec = topics[t.name]["spec"]
        assert (spec["topicName"], spec["partitions"], spec["config"]["retention.ms"]) == (
            t.name, t.partitions, t.retention_ms)
        assert spec["replicas"] == 3 and spec["config"]["min.insync.replicas"] == 2
        assert topics[t.dlq]["spec"]["partitions"] == DLQ_PARTITIONS
        assert topics[t.name]["metadata"]["labels"]["strimzi.io/cluster"]


def test_bus_docs_are_not_stale() -> None:
    gen = load_script("tools/gen_bus_docs.py")
    assert gen.OUTPUT.read_text() == gen.render(), FIX.format("tools/gen_bus_docs.py")


def test_bus_docs_name_every_topic_key_and_field() -> None:
    gen = load_script("tools/gen_bus_docs.py")
    text = gen.OUTPUT.read_text()
    for t in TOPICS.values():
        assert f"## `{t.name}`" in text and f"`{t.dlq}`" in text
        assert gen.key_fields(t), f"{t.name}: the key function reads no payload field"
        for field in t.payload.model_json_schema()["properties"]:
            assert f"| `{field}` |" in text, f"{t.name}: field {field} missing"


def test_dashboards_are_not_stale() -> None:
    gen = load_script("tools/gen_dashboards.py")
    files = gen.render()
    stale = [str(p.relative_to(REPO)) for p, text in files.items() if not p.exists() or p.read_text() != text]
    extra = set(gen.DASHBOARDS.glob("*/*.json")) - set(files)
    assert not stale and not extra, f"{stale + sorted(map(str, extra))}: " + FIX.format("tools/gen_dashboards.py")


def test_prometheus_rules_wrappers_are_not_stale() -> None:
    gen = load_script("deploy/prometheus/gen_prometheusrules.py")
    assert gen.stale() == [], FIX.format("deploy/prometheus/gen_prometheusrules.py")


def test_prometheus_rule_wrappers_hold_the_plain_rule_files_unchanged() -> None:
    for plain in sorted((DEPLOY / "prometheus" / "rules").glob("*.yaml")):
        wrapped = yaml.safe_load((DEPLOY / "prometheus" / "k8s" / plain.name).read_text())
        assert wrapped["kind"] == "PrometheusRule"
        assert wrapped["spec"]["groups"] == yaml.safe_load(plain.read_text())["groups"]
