"""The platform around the services: bus ACLs against the topic table, autoscalers bounded by
partitions, the policies an SRE checks on every pod, backups, the terminal entry, bus security."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from deploy_harness import OVERLAYS, by_kind, load_script, render_overlay
from pydantic import ValidationError

from emms_archive.settings import IngestSettings
from emms_bus.settings import KafkaSettings
from emms_messages.topics import TOPICS

DOWNLINK = "emms.downlink.request.v1"


def pod_workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    return [*by_kind(docs, "Deployment"), *by_kind(docs, "StatefulSet"), *by_kind(docs, "Job")]


def acl_table(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, set[str]]]:
    """user → operation → topic names (literal topic ACLs)."""
    out: dict[str, dict[str, set[str]]] = {}
    for user in by_kind(docs, "KafkaUser"):
        table = out.setdefault(user["metadata"]["name"], {})
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["type"] == "allow"
            assert not {"All", "Create", "Delete", "Alter", "AlterConfigs", "ClusterAction"} & set(acl["operations"])
            if acl["resource"]["type"] == "topic" and acl["resource"]["patternType"] == "literal":
                for op in acl["operations"]:
                    table.setdefault(op, set()).add(acl["resource"]["name"])
    return out


# --- the bus: who may read and write what ---------------------------------------------------------


def test_kafka_users_are_not_stale() -> None:
    gen = load_script("tools/gen_k8s_users.py")
    assert gen.OUTPUT.read_text() == gen.render(), "regenerate with: .venv/bin/python tools/gen_k8s_users.py"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_may_use_exactly_its_topics(overlay: str) -> None:
    docs = render_overlay(overlay)
    table = acl_table(docs)
    services = {u.removeprefix("emms-bus-") for u in table} - {"keda"}
    assert services == {s for t in TOPICS.values() for s in (*t.producers, *t.consumers)}
    for service in services:
        acls = table[f"emms-bus-{service}"]
        produced = {t.name for t in TOPICS.values() if service in t.producers}
        consumed = {t.name for t in TOPICS.values() if service in t.consumers}
        assert acls.get("Write", set()) == produced | {f"{n}.dlq" for n in consumed}, service
        assert acls.get("Read", set()) == consumed, service
    readers = {u for u, acls in table.items() if DOWNLINK in acls.get("Read", set())}
    writers = {u for u, acls in table.items() if DOWNLINK in acls.get("Write", set())}
    assert readers == {"emms-bus-fep"}, "only the FEP consumes downlink requests"
    # the collector reads, control commands, the archive rotates terminal passwords (AFN04 F5, confirmed by the
    # terminal's result): nobody else may put a request to a terminal on the bus
    assert writers == {"emms-bus-collector", "emms-bus-control", "emms-bus-archive"}, "only these may ask a terminal"
    assert table["emms-bus-keda"].get("Read") is None and table["emms-bus-keda"].get("Write") is None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_authenticates_and_authorises_every_client(overlay: str) -> None:
    docs = render_overlay(overlay)
    (kafka,) = by_kind(docs, "Kafka")
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["authentication"]["type"] in ("scram-sha-512", "tls"), listener["name"]
        assert listener.get("networkPolicyPeers"), f"{listener['name']}: open to every namespace"
    users = {u["metadata"]["name"] for u in by_kind(docs, "KafkaUser")}
    for w in pod_workloads(docs):
        c = w["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if "EMMS_KAFKA_SASL_USERNAME" in env:
            user = env["EMMS_KAFKA_SASL_USERNAME"]
            assert user in users
            secrets = {v["secret"]["secretName"] for v in w["spec"]["template"]["spec"]["volumes"] if "secret" in v}
            assert user in secrets, f"{w['metadata']['name']} mounts its own KafkaUser's Secret"
    config = kafka["spec"]["kafka"]["config"]
    nodes = sum(p["spec"]["replicas"] for p in by_kind(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    if overlay == "prod":
        assert nodes == 3 and kafka["spec"]["kafka"]["rack"]["topologyKey"] == "topology.kubernetes.io/zone"
        assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)
    for topic in by_kind(docs, "KafkaTopic"):
        assert topic["spec"]["replicas"] <= nodes
        assert topic["spec"]["config"]["min.insync.replicas"] == min(2, nodes)


# --- autoscaling ----------------------------------------------------------------------------------


def consumers_per_pod(target: str) -> int:
    return IngestSettings().raw_consumers if target == "emms-archive" else 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_lag_autoscaler_is_bounded_by_its_topics_partitions(overlay: str) -> None:
    docs = render_overlay(overlay)
    namespace = by_kind(docs, "Deployment")[0]["metadata"]["namespace"]
    targets = {(w["kind"], w["metadata"]["name"]): w for w in pod_workloads(docs)}
    scaled = {}
    for so in by_kind(docs, "ScaledObject"):
        ref = so["spec"]["scaleTargetRef"]
        target = targets[(ref["kind"], ref["name"])]
        assert "replicas" not in target["spec"], f"{ref['name']}: replicas belong to KEDA"
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]
        scaled[ref["name"]] = so
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] != "kafka":
                continue
            meta = trigger["metadata"]
            topic = TOPICS[meta["topic"]]
            assert so["spec"]["maxReplicaCount"] * consumers_per_pod(ref["name"]) <= topic.partitions, (
                f"{so['metadata']['name']}: more consumers than {topic.name}'s {topic.partitions} partitions")
            assert meta["consumerGroup"].startswith(ref["name"].removeprefix("emms-") + "-")
            assert meta["bootstrapServers"] == f"emms-kafka-kafka-bootstrap.{namespace}.svc:9093"
            assert meta["allowIdleConsumers"] == "false"
            assert ref["name"].removeprefix("emms-") in topic.consumers
    assert set(scaled) == {"emms-collector", "emms-validator", "emms-archive", "emms-fep"}
    assert [t["type"] for t in scaled["emms-fep"]["spec"]["triggers"]] == ["prometheus"]
    assert f'namespace="{namespace}"' in scaled["emms-fep"]["spec"]["triggers"][0]["metadata"]["query"]


# --- the policies an SRE checks on every pod -------------------------------------------------------


PINNED = re.compile(r"^[\w.\-/:]+(:[\w.\-]+|@sha256:[0-9a-f]{64})$")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_follows_the_policies(overlay: str) -> None:
    docs = render_overlay(overlay)
    for w in pod_workloads(docs):
        name, pod = w["metadata"]["name"], w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod.get("initContainers", []) + pod["containers"]:
            image = c["image"]
            assert PINNED.match(image) and not image.endswith(":latest"), f"{name}: image {image} not pinned"
            if overlay == "prod":
                assert ":" in image.split("/")[-1] or "@" in image, f"{name}: {image} has no tag"
            assert c["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert "memory" in c["resources"]["limits"], name
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            if w["kind"] != "Job":
                assert {"livenessProbe", "readinessProbe"} <= set(c), f"{name}: probes"
    (db,) = by_kind(docs, "Cluster")
    assert re.search(r":\d+\.\d+-ts\d+\.\d+$", db["spec"]["imageName"]), "database image pinned to minors"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_multi_replica_workload_has_a_disruption_budget(overlay: str) -> None:
    docs = render_overlay(overlay)
    most = {so["spec"]["scaleTargetRef"]["name"]: so["spec"]["maxReplicaCount"] for so in by_kind(docs, "ScaledObject")}
    budgets = [p["spec"]["selector"]["matchLabels"] for p in by_kind(docs, "PodDisruptionBudget")]
    for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"):
        name = w["metadata"]["name"]
        if most.get(name, w["spec"].get("replicas", 1)) > 1:
            labels = w["spec"]["template"]["metadata"]["labels"]
            assert any(sel.items() <= labels.items() for sel in budgets), f"{name}: no PodDisruptionBudget"


def test_prod_runs_interactive_reads_on_two_replicas() -> None:
    (api,) = [w for w in by_kind(render_overlay("prod"), "Deployment") if w["metadata"]["name"] == "emms-collector-api"]
    assert api["spec"]["replicas"] >= 2


# --- backups ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_is_backed_up_and_replicated_synchronously(overlay: str) -> None:
    docs = render_overlay(overlay)
    (db,) = by_kind(docs, "Cluster")
    (store,) = by_kind(docs, "ObjectStore")
    (plugin,) = db["spec"]["plugins"]
    assert plugin["isWALArchiver"] is True and plugin["parameters"]["barmanObjectName"] == store["metadata"]["name"]
    (daily,) = by_kind(docs, "ScheduledBackup")
    assert daily["spec"]["cluster"]["name"] == db["metadata"]["name"]
    assert (daily["spec"]["method"], daily["spec"]["pluginConfiguration"]["name"]) == ("plugin", plugin["name"])
    assert store["spec"]["retentionPolicy"]
    # no unattended switch-over of the primary on an image change; the image names a minor, not a major
    assert db["spec"]["primaryUpdateStrategy"] == "supervised"
    assert re.fullmatch(r"[^:]+:\d+\.\d+-ts\d+\.\d+(@sha256:[0-9a-f]{64})?", db["spec"]["imageName"])
    if overlay == "prod":
        assert db["spec"]["instances"] >= 3
        assert db["spec"]["postgresql"]["synchronous"]["number"] >= 1
        assert db["spec"]["postgresql"]["synchronous"]["dataDurability"] == "required"
    (archive,) = [w for w in by_kind(docs, "Deployment") if w["metadata"]["name"] == "emms-archive"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in archive["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    (pvc,) = [p for p in by_kind(docs, "PersistentVolumeClaim") if p["metadata"]["name"] in claims]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


# --- the terminal entry ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_terminal_port_is_open_to_the_field_networks_only(overlay: str) -> None:
    docs = render_overlay(overlay)
    (svc,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "emms-fep-terminals"]
    (policy,) = [p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "emms-fep-terminals"]
    ranges = svc["spec"]["loadBalancerSourceRanges"]
    blocks = [peer["ipBlock"]["cidr"] for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert ranges == blocks and "0.0.0.0/0" not in ranges
    assert svc["spec"]["sessionAffinity"] == "None"
    if overlay == "prod":
        assert (svc["spec"]["type"], svc["spec"]["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
        (fep,) = by_kind(docs, "StatefulSet")
        keys = {t["topologyKey"] for t in fep["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in keys


# --- bus security settings --------------------------------------------------------------------------


def make_ca(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_local_plain_broker_settings_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMMS_KAFKA_SECURITY_PROTOCOL", "EMMS_KAFKA_TLS_CA_FILE", "EMMS_KAFKA_SASL_USERNAME",
                 "EMMS_KAFKA_SASL_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = KafkaSettings()
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.client_security() == {} and settings.ssl_context() is None


async def test_scram_over_tls_settings_make_a_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    monkeypatch.setenv("EMMS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("EMMS_KAFKA_TLS_CA_FILE", str(ca))
    monkeypatch.setenv("EMMS_KAFKA_SASL_USERNAME", "emms-bus-fep")
    monkeypatch.setenv("EMMS_KAFKA_SASL_PASSWORD_FILE", str(password))
    settings = KafkaSettings()
    kwargs = settings.client_security()
    assert (kwargs["security_protocol"], kwargs["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("emms-bus-fep", "s3cret")
    assert kwargs["ssl_context"].get_ca_certs()[0]["subject"] == ((("commonName", "cluster-ca"),),)
    AIOKafkaProducer(bootstrap_servers="emms-kafka-kafka-bootstrap:9093", **kwargs)  # aiokafka accepts them
    password.write_text("rotated")
    assert settings.client_security()["sasl_plain_password"] == "rotated", "read at each connection"


def test_incomplete_security_settings_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    with pytest.raises(ValidationError, match="sasl_username and sasl_password_file"):
        KafkaSettings(security_protocol="SASL_SSL", tls_ca_file=str(ca))
    with pytest.raises(ValidationError, match="not a file"):
        KafkaSettings(security_protocol="SSL", tls_ca_file=str(tmp_path / "missing.crt"))
    with pytest.raises(ValidationError, match="go together"):
        KafkaSettings(security_protocol="SSL", tls_cert_file=str(ca))
    with pytest.raises(ValidationError, match="TLS files given"):
        KafkaSettings(security_protocol="PLAINTEXT", tls_ca_file=str(ca))
    monkeypatch.setenv("EMMS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="sasl_username"):
        KafkaSettings()
