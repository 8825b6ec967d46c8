"""The Kubernetes manifests render, validate offline, and follow the deployment rules.

Every overlay is rendered with ``kubectl kustomize``; built-in kinds are checked
with kubernetes-validate (bundled schemas, strict), custom resources against the
vendored schemas in ``deploy/k8s/schemas/``. Without kubectl the overlay tests
skip and the base's YAML files are validated directly.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet
from deploy_harness import K8S, OVERLAYS, by_kind, render_overlay
from pydantic import BaseModel, ValidationError

from emms_identity.passwords import policy
from emms_identity.settings import PasswordPolicy
from emms_runtime.settings import ServiceSettings

K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())
SCHEMAS = K8S / "schemas"
SERVICES = {  # short name -> (settings class, HTTP port)
    "identity": ("emms_identity.settings:IdentitySettings", 8007),
    "fep": ("emms_fep.settings:FepSettings", 8001),
    "collector": ("emms_collector.settings:CollectorSettings", 8002),
    "validator": ("emms_validator.settings:ValidatorSettings", 8003),
    "control": ("emms_control.settings:ControlSettings", 8004),
    "analytics": ("emms_analytics.settings:AnalyticsSettings", 8005),
    "archive": ("emms_archive.settings:ArchiveSettings", 8006),
    "operations": ("emms_operations.settings:OperationsSettings", 8008),
    "reports": ("emms_reports.settings:ReportsSettings", 8009),
    "interface": ("emms_interface.settings:InterfaceSettings", 8010),
}
SHUTDOWN_GRACE_S = ServiceSettings.model_fields["shutdown_grace_s"].default


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        props = schema["properties"]
        out[(props["apiVersion"]["const"], props["kind"]["const"])] = schema
    return out


def validate(doc: dict[str, Any]) -> None:
    """Raise when a manifest does not validate; every kind must have a schema."""
    key = (doc["apiVersion"], doc["kind"])
    if key in crd_schemas():
        jsonschema.Draft202012Validator(crd_schemas()[key]).validate(doc)
        return
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def workloads(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The EMMS services' workloads (not Grafana, not the migration Job)."""
    return [w for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
            if w["spec"]["template"]["metadata"]["labels"].get("emms.metering/role") == "service"]


def short_name(workload: dict[str, Any]) -> str:
    """The service a workload runs: ``emms-collector-api`` is the collector in another role."""
    return str(workload["metadata"]["name"]).removeprefix("emms-").removesuffix("-api")


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def ports(c: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


# --- rendering and schema validation -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_object_validates(overlay: str) -> None:
    docs = render_overlay(overlay)
    assert len(docs) > 50
    errors = []
    for doc in docs:
        try:
            validate(doc)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{doc['kind']} ({doc['apiVersion']}): no schema (vendor one in deploy/k8s/schemas)")
    assert errors == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_holds_every_piece(overlay: str) -> None:
    docs = render_overlay(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Service", "ServiceMonitor", "PodDisruptionBudget", "ConfigMap",
            "KafkaTopic", "Cluster", "PrometheusRule"} <= kinds
    assert {short_name(w) for w in workloads(docs)} == set(SERVICES)
    assert {d["metadata"].get("namespace") for d in docs} == {f"emms-{overlay}" if overlay != "prod" else "emms"}


def test_validation_is_not_vacuous() -> None:
    docs = render_overlay(OVERLAYS[0])
    deployment = copy.deepcopy(by_kind(docs, "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}  # typo of livenessProbe
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    topic = copy.deepcopy(by_kind(docs, "KafkaTopic")[0])
    topic["spec"]["partitions"] = "48"
    with pytest.raises(jsonschema.ValidationError):
        validate(topic)
    del topic["metadata"]["labels"]["strimzi.io/cluster"]
    with pytest.raises(jsonschema.ValidationError):
        validate(topic)
    old = copy.deepcopy(by_kind(docs, "KafkaTopic")[0])
    old["apiVersion"] = "kafka.strimzi.io/v1beta2"  # no longer served by Strimzi 1.x: no schema here either
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(old)
    user = copy.deepcopy(by_kind(docs, "KafkaUser")[0])
    user["spec"]["authorization"]["acls"][0]["operation"] = "Write"  # v1beta2's field, pruned silently by v1
    with pytest.raises(jsonschema.ValidationError):
        validate(user)


def test_base_and_component_files_validate() -> None:
    """Every plain manifest file of the base and the components (all that is checked when kubectl is missing)."""
    files = [p for p in (K8S / "base").rglob("*.yaml") if p.name != "kustomization.yaml"]
    files += [p for p in (K8S / "components").rglob("*.yaml") if p.name != "kustomization.yaml"]
    assert len(files) >= 30
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                validate(doc)


# --- deployment rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_follow_the_deployment_rules(overlay: str) -> None:
    for w in workloads(render_overlay(overlay)):
        name, pod, c = w["metadata"]["name"], w["spec"]["template"]["spec"], container(w)
        assert "http-metrics" in ports(c), name
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}, name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}, name
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz", name
        sleep = c["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep", name
        assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_GRACE_S + int(sleep[1]), name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert pod["enableServiceLinks"] is False, f"{name}: service links would inject EMMS_<SVC>_PORT variables"
        assert {"requests", "limits"} <= set(c["resources"]), name
        env = {e["name"]: e.get("valueFrom", {}) for e in c["env"]}
        assert env["EMMS_DATABASE_URL"]["secretKeyRef"]["key"] == "uri", name
        assert "EMMS_JWT_SECRET" not in env, f"{name}: services verify with the JWKS, no shared secret"
        upper = short_name(w).upper()
        assert env[f"EMMS_{upper}_INSTANCE_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}, name


PROJECT_WIDE = {"EMMS_ENVIRONMENT", "EMMS_KAFKA_BOOTSTRAP", "EMMS_TOPIC_PREFIX", "EMMS_DATABASE_URL", "EMMS_JWKS_URL",
                "EMMS_ACCEPT_DEV_TOKENS", "EMMS_KAFKA_ENSURE_TOPICS", "EMMS_KAFKA_SECURITY_PROTOCOL",
                "EMMS_KAFKA_SASL_MECHANISM", "EMMS_KAFKA_TLS_CA_FILE", "EMMS_KAFKA_SASL_PASSWORD_FILE"}


def names_a_setting(model: type[BaseModel], path: list[str]) -> bool:
    """True when EMMS_<SVC>_A__B names a field (pydantic-settings ignores unknown nested keys silently)."""
    field = model.model_fields.get(path[0].lower())
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = field.annotation
    return isinstance(nested, type) and issubclass(nested, BaseModel) and names_a_setting(nested, path[1:])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_map_keys_name_real_settings(overlay: str) -> None:
    docs = render_overlay(overlay)
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    for w in workloads(docs):
        short = short_name(w)
        module, cls = SERVICES[short][0].split(":")
        model = getattr(importlib.import_module(module), cls)
        prefix = f"EMMS_{short.upper()}_"
        for ref in container(w)["envFrom"]:
            for key in maps[ref["configMapRef"]["name"]]:
                if key.startswith(prefix):
                    assert names_a_setting(model, key.removeprefix(prefix).split("__")), f"{short}: {key}"
                else:
                    assert key in PROJECT_WIDE or key.startswith("PYTHON"), f"{short}: {key}"


OUT_OF_BAND_SECRET_VALUES = {"key-encryption-key": lambda: Fernet.generate_key().decode(),
                             "ca.crt": lambda: "(Strimzi's cluster CA certificate)",
                             "password": lambda: "scram-password-made-by-the-user-operator"}
"""Values of the Secrets prod creates out of band (docs/operations.md), made up for the settings test."""
JWKS_PATH = "/.well-known/jwks.json"


def secret_volume_files(docs: tuple[dict[str, Any], ...], w: dict[str, Any], root: Path) -> dict[str, Path]:
    """Lay out the workload's Secret volumes under ``root`` as the kubelet would mount them:
    ``{mountPath: local directory}``. The rendered Secret's data where the overlay makes it (dev),
    else a made-up value for a Secret created out of band (prod)."""
    secrets = {s["metadata"]["name"]: s.get("data", {}) for s in by_kind(docs, "Secret")}
    volumes = {v["name"]: v["secret"] for v in w["spec"]["template"]["spec"].get("volumes", []) if "secret" in v}
    out = {}
    for mount in container(w).get("volumeMounts", []):
        if mount["name"] not in volumes:
            continue
        source = volumes[mount["name"]]
        data = secrets.get(source["secretName"])
        local = root / mount["name"]
        local.mkdir(parents=True)
        for item in source["items"]:
            value = (base64.b64decode(data[item["key"]]).decode() if data is not None
                     else OUT_OF_BAND_SECRET_VALUES[item["key"]]())
            (local / item["path"]).write_text(value)
        out[mount["mountPath"]] = local
    return out


def build_settings(docs: tuple[dict[str, Any], ...], w: dict[str, Any], root: Path, m: pytest.MonkeyPatch,
                   unset: tuple[str, ...] = (), **extra: str) -> Any:
    """The service's settings from its config maps, Secret mounts and Secret references, as in the pod
    (less the variables in ``unset``, plus ``extra``)."""
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    mounts = secret_volume_files(docs, w, root)
    c = container(w)
    for ref in c["envFrom"]:
        for key, value in maps[ref["configMapRef"]["name"]].items():
            for mount_path, local in mounts.items():
                if value.startswith(mount_path + "/"):
                    value = str(local / value.removeprefix(mount_path + "/"))
            m.setenv(key, value)
    for e in c["env"]:
        if "value" in e:
            m.setenv(e["name"], e["value"])
    m.setenv("EMMS_DATABASE_URL", "postgresql://emms@emms-db-rw:5432/emms")
    for key, value in extra.items():
        m.setenv(key, value)
    for key in unset:
        m.delenv(key, raising=False)
    module, cls = SERVICES[short_name(w)][0].split(":")
    return getattr(importlib.import_module(module), cls)()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_built_from_the_config_maps_match_the_ports(overlay: str, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    docs = render_overlay(overlay)
    (identity,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "emms-identity"]
    jwks_url = f"http://emms-identity:{identity['spec']['ports'][0]['port']}{JWKS_PATH}"
    for w in workloads(docs):
        short, c = short_name(w), container(w)
        with monkeypatch.context() as m:
            settings = build_settings(docs, w, tmp_path / w["metadata"]["name"], m)
        assert settings.http.host == "0.0.0.0"
        assert settings.kafka.ensure_topics is False, "on Kubernetes, Strimzi owns the topics"
        assert settings.http.port == SERVICES[short][1] == ports(c)["http-metrics"]
        assert settings.database.create_if_missing is False
        assert settings.kafka.bootstrap == "emms-kafka-kafka-bootstrap:9093", "Strimzi's TLS listener"
        assert (settings.kafka.security_protocol, settings.kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
        assert settings.kafka.sasl_username == f"emms-bus-{short}", "each service has its own KafkaUser"
        assert settings.auth.jwks_url == jwks_url, f"{short}: tokens are verified with the identity Service's JWKS"
        assert settings.auth.accept_dev_tokens is (overlay == "dev"), short
        assert settings.environment == ("development" if overlay == "dev" else "production")
        if short == "fep":
            assert settings.terminals.port == ports(c)["terminals"]
        if short in ("archive", "fep"):  # the terminal-password KEK is mounted (without it: no own PWs)
            assert settings.terminal_passwords.keys(settings.environment), short


def test_prod_services_refuse_development_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every prod service is configured to refuse emms-token's tokens, and would refuse to start if told
    to accept them or if it had no JWKS to verify with."""
    docs = render_overlay("prod")
    common = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("emms-common"))
    assert common["data"]["EMMS_ACCEPT_DEV_TOKENS"] == "false"
    for w in workloads(docs):
        name = w["metadata"]["name"]
        assert {e["name"] for e in container(w)["env"]}.isdisjoint({"EMMS_ACCEPT_DEV_TOKENS", "EMMS_JWKS_URL"}), name
        with monkeypatch.context() as m, pytest.raises(ValidationError, match="development tokens"):
            build_settings(docs, w, tmp_path / f"{name}-dev", m, EMMS_ACCEPT_DEV_TOKENS="true")
        with monkeypatch.context() as m, pytest.raises(ValidationError, match="EMMS_JWKS_URL"):
            build_settings(docs, w, tmp_path / f"{name}-nojwks", m, unset=("EMMS_JWKS_URL",))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_shared_jwt_secret_remains(overlay: str) -> None:
    docs = render_overlay(overlay)
    text = yaml.safe_dump_all(docs)
    assert "EMMS_JWT_SECRET" not in text and "emms-jwt" not in text
    for path in K8S.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".env"):
            assert "EMMS_JWT_SECRET" not in path.read_text(), path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_identity_reads_its_key_encryption_key_from_a_secret(overlay: str) -> None:
    docs = render_overlay(overlay)
    (w,) = [w for w in workloads(docs) if w["metadata"]["name"] == "emms-identity"]
    c, pod = container(w), w["spec"]["template"]["spec"]
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    config = {k: v for ref in c["envFrom"] for k, v in maps[ref["configMapRef"]["name"]].items()}
    assert "EMMS_IDENTITY_KEY_ENCRYPTION_KEY" not in config, "the key itself never sits in a ConfigMap"
    assert "EMMS_IDENTITY_KEY_ENCRYPTION_KEY" not in {e["name"] for e in c["env"]}
    key_file = Path(config["EMMS_IDENTITY_KEY_ENCRYPTION_KEY_FILE"])
    (mount,) = [mt for mt in c["volumeMounts"] if key_file.parent == Path(mt["mountPath"])]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret_name = volume["secret"]["secretName"]
    assert secret_name.startswith("emms-identity")
    assert {i["path"]: i["key"] for i in volume["secret"]["items"]} == {key_file.name: "key-encryption-key"}
    assert volume["secret"]["defaultMode"] & 0o007 == 0, "not readable by others"
    env = {e["name"]: e.get("valueFrom", {}) for e in c["env"]}
    ref = env["EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == (secret_name, "bootstrap-admin-password")
    secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
    if overlay == "prod":
        assert secrets == {}, "prod Secrets are created out of band (docs/operations.md), never rendered"
    else:
        data = secrets[secret_name]["data"]
        Fernet(base64.b64decode(data["key-encryption-key"]))  # a valid Fernet key
        password = base64.b64decode(data["bootstrap-admin-password"]).decode()
        assert "not-for-production" in password
        assert policy.violations(PasswordPolicy(), password, "admin") == [], "the first start would refuse it"
    for other in workloads(docs):
        if other is not w:
            refs = {v["secret"]["secretName"] for v in other["spec"]["template"]["spec"].get("volumes", [])
                    if "secret" in v}
            refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container(other)["env"]
                     if "secretKeyRef" in e.get("valueFrom", {})}
            assert secret_name not in refs, f"{other['metadata']['name']} must not read the identity's Secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_pods_and_name_their_ports(overlay: str) -> None:
    docs = render_overlay(overlay)
    pods = {w["metadata"]["name"]: (w["spec"]["template"]["metadata"]["labels"], ports(container(w)))
            for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")}
    for svc in by_kind(docs, "Service"):
        matched = [n for n, (labels, _) in pods.items() if svc["spec"]["selector"].items() <= labels.items()]
        assert len(matched) == 1, svc["metadata"]["name"]
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in pods[matched[0]][1], f"{svc['metadata']['name']}: {p['targetPort']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_monitor_scrapes_one_service_on_the_named_port(overlay: str) -> None:
    docs = render_overlay(overlay)
    services = by_kind(docs, "Service")
    for sm in by_kind(docs, "ServiceMonitor"):
        wanted = sm["spec"]["selector"]["matchLabels"].items()
        selected = [s for s in services if wanted <= s["metadata"]["labels"].items()]
        assert len(selected) == 1, f"{sm['metadata']['name']} selects {[s['metadata']['name'] for s in selected]}"
        assert [e["port"] for e in sm["spec"]["endpoints"]] == ["http-metrics"]
        assert "http-metrics" in {p["name"] for p in selected[0]["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_fep_replicas_share_the_fleet(overlay: str) -> None:
    docs = render_overlay(overlay)
    (fep,) = [w for w in by_kind(docs, "StatefulSet") if w["metadata"]["name"] == "emms-fep"]
    services = {s["metadata"]["name"]: s["spec"] for s in by_kind(docs, "Service")}
    assert services[fep["spec"]["serviceName"]]["clusterIP"] == "None"
    assert services["emms-fep-terminals"]["type"] in ("LoadBalancer", "NodePort")
    assert [p["targetPort"] for p in services["emms-fep-terminals"]["ports"]] == ["terminals"]
    env = {e["name"]: e.get("valueFrom") for e in container(fep)["env"]}
    assert env["EMMS_FEP_REPLICA_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_and_database_point_at_the_overlay_clusters(overlay: str) -> None:
    docs = render_overlay(overlay)
    common = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("emms-common"))
    cluster = common["data"]["EMMS_KAFKA_BOOTSTRAP"].removesuffix("-kafka-bootstrap:9093")
    assert [k["metadata"]["name"] for k in by_kind(docs, "Kafka")] == [cluster]
    for kind in ("KafkaTopic", "KafkaUser", "KafkaNodePool"):
        assert {t["metadata"]["labels"]["strimzi.io/cluster"] for t in by_kind(docs, kind)} == {cluster}, kind
    (db,) = by_kind(docs, "Cluster")
    assert db["spec"]["postgresql"]["shared_preload_libraries"] == ["timescaledb"]
    assert any("timescaledb" in sql for sql in db["spec"]["bootstrap"]["initdb"]["postInitTemplateSQL"])
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for w in workloads(docs) for e in container(w)["env"]
            if e["name"] == "EMMS_DATABASE_URL"}
    assert refs == {f"{db['metadata']['name']}-app"}, "services must read CloudNativePG's application secret"
    for topic in by_kind(docs, "KafkaTopic"):
        assert topic["spec"]["config"]["min.insync.replicas"] <= topic["spec"]["replicas"]


def test_schemas_directory_is_documented() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    for path in SCHEMAS.glob("*.json"):
        assert path.name in readme
    assert Path(SCHEMAS / "README.md").exists()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_collector_runs_a_collecting_and_an_interactive_deployment(overlay: str) -> None:
    """Manual reads have replicas of their own (role interactive): a big run never holds them up."""
    roles = {}
    for w in workloads(render_overlay(overlay)):
        if short_name(w) == "collector":
            env = {e["name"]: e.get("value") for e in container(w)["env"]}
            roles[w["metadata"]["name"]] = env.get("EMMS_COLLECTOR_ROLE", "all")
    assert roles == {"emms-collector": "all", "emms-collector-api": "interactive"}
