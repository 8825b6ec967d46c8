"""The NetworkPolicies allow exactly the flows of docs/architecture.md ("Network flows").

Every pod of the rendered overlay, the pods the operators create in the namespace (Kafka nodes,
the entity operator, PostgreSQL instances) and the parties outside it (Prometheus, the ingress
controller, KEDA, the CloudNativePG operator, a terminal in a field network, an address on the
internet, a pod of an unrelated namespace) are endpoints; a flow src → dst:port is allowed when
the policies selecting src allow it out and those selecting dst allow it in (Kafka's ingress is
what Strimzi generates from the listeners' networkPolicyPeers). The set of allowed flows must be
the documented table, row for row.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from deploy_harness import OVERLAYS, REPO, by_kind, render_overlay

ARCHITECTURE = REPO / "docs" / "architecture.md"
DNS = "kube-dns"


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None                      # None: an address outside the cluster
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ports: dict[str, int] = field(default_factory=dict, hash=False)
    ip: str | None = None


def outside_parties() -> list[Endpoint]:
    return [
        Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, {"web": 9090}),
        Endpoint("ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        Endpoint("keda", "keda", {"app": "keda-operator"}),
        Endpoint("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}),
        Endpoint(DNS, "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53}),
        Endpoint("other-namespace", "other", {"app": "anything"}),
        Endpoint("field-terminal", None, ip="10.20.30.40"),
        Endpoint("internet", None, ports={"https": 443, "kube-api": 6443}, ip="203.0.113.10"),
    ]


def endpoints(docs: tuple[dict[str, Any], ...], ns: str) -> list[Endpoint]:
    out = []
    for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet") + by_kind(docs, "Job"):
        pod = w["spec"]["template"]
        ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        out.append(Endpoint(w["metadata"]["name"].removeprefix("emms-"), ns, pod["metadata"]["labels"], ports))
    (kafka,) = by_kind(docs, "Kafka")
    cluster = kafka["metadata"]["name"]
    listeners = {f"listener-{lst['name']}": lst["port"] for lst in kafka["spec"]["kafka"]["listeners"]}
    out.append(Endpoint("kafka", ns, {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka",
                                      "strimzi.io/name": f"{cluster}-kafka", "strimzi.io/broker-role": "true",
                                      "strimzi.io/controller-role": "true"},
                        {**listeners, "controlplane": 9090, "replication": 9091}))
    out.append(Endpoint("kafka-entity-operator", ns, {"strimzi.io/cluster": cluster, "strimzi.io/kind": "Kafka",
                                                      "strimzi.io/name": f"{cluster}-entity-operator"}))
    (db,) = by_kind(docs, "Cluster")
    out.append(Endpoint("database", ns, {"cnpg.io/cluster": db["metadata"]["name"], "cnpg.io/podRole": "instance"},
                        {"postgresql": 5432, "status": 8000, "metrics": 9187}))
    return out + outside_parties()


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are modelled"
    return dict(selector.get("matchLabels", {})).items() <= labels.items()


def peer_matches(peer: dict[str, Any], policy_ns: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        net = ipaddress.ip_network(peer["ipBlock"]["cidr"])
        excluded = [ipaddress.ip_network(e) for e in peer["ipBlock"].get("except", [])]
        return ipaddress.ip_address(other.ip) in net and not any(ipaddress.ip_address(other.ip) in e for e in excluded)
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other.namespace})
    else:
        ns_ok = other.namespace == policy_ns
    return ns_ok and selects(peer.get("podSelector", {}), other.labels)


def port_matches(rule: dict[str, Any], dst: Endpoint, port_name: str) -> bool:
    if not rule.get("ports"):
        return True
    for p in rule["ports"]:
        if p.get("protocol", "TCP") != "TCP" and port_name != "dns":
            continue
        if p["port"] == port_name or p["port"] == dst.ports[port_name]:
            return True
    return False


def policies_allow(policies: list[dict[str, Any]], ns: str, pod: Endpoint, peer: Endpoint, dst: Endpoint,
                   port_name: str, direction: str) -> bool:
    selecting = [p for p in policies if selects(p["spec"]["podSelector"], pod.labels)
                 and direction in p["spec"]["policyTypes"]]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in selecting:
        for rule in p["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(x, ns, peer) for x in peers)) and port_matches(rule, dst, port_name):
                return True
    return False


def strimzi_allows(kafka: dict[str, Any], ns: str, src: Endpoint, port_name: str) -> bool:
    """The NetworkPolicy Strimzi generates for the Kafka pods."""
    if port_name.startswith("listener-"):
        (listener,) = [x for x in kafka["spec"]["kafka"]["listeners"] if f"listener-{x['name']}" == port_name]
        peers = listener.get("networkPolicyPeers")
        return not peers or any(peer_matches(p, ns, src) for p in peers)
    cluster = kafka["metadata"]["name"]
    if port_name == "controlplane":
        return src.labels.get("strimzi.io/name") == f"{cluster}-kafka"
    return src.labels.get("strimzi.io/cluster") == cluster and src.namespace == ns  # replication: nodes, operators


def allowed_flows(overlay: str) -> set[tuple[str, str, int]]:
    docs = render_overlay(overlay)
    ns = by_kind(docs, "Deployment")[0]["metadata"]["namespace"]
    policies = by_kind(docs, "NetworkPolicy")
    (kafka,) = by_kind(docs, "Kafka")
    points = endpoints(docs, ns)
    flows = set()
    for src in points:
        for dst in points:
            if src.namespace != ns and dst.namespace != ns:
                continue                                        # not this namespace's policies' business
            for port_name, number in dst.ports.items():
                out_ok = src.namespace != ns or policies_allow(policies, ns, src, dst, dst, port_name, "Egress")
                if dst.name == "kafka":
                    in_ok = strimzi_allows(kafka, ns, src, port_name)
                else:
                    in_ok = dst.namespace != ns or policies_allow(policies, ns, dst, src, dst, port_name, "Ingress")
                if out_ok and in_ok:
                    flows.add((src.name, dst.name, number))
    return flows


def documented_flows() -> set[tuple[str, str, int]]:
    text = ARCHITECTURE.read_text()
    section = text.split("## Network flows", 1)[1].split("\n## ", 1)[0]
    out = set()
    for line in section.splitlines():
        m = re.match(r"^\| `([\w-]+)` \| `([\w-]+)` \| (\d+) \|", line)
        if m:
            out.add((m[1], m[2], int(m[3])))
    assert out, "no flow table in docs/architecture.md"
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_network_policies_allow_exactly_the_documented_flows(overlay: str) -> None:
    flows = allowed_flows(overlay)
    ours = {p.name for p in endpoints(render_overlay(overlay), "x") if p.namespace == "x"}
    assert {(src, DNS, 53) for src in ours} <= flows, "every pod resolves names"
    flows = {f for f in flows if f[1] != DNS}
    documented = documented_flows()
    assert sorted(flows - documented) == [], "allowed but not documented"
    assert sorted(documented - flows) == [], "documented but not allowed"


def test_the_flow_model_is_not_vacuous() -> None:
    flows = allowed_flows("prod")
    assert ("other-namespace", "archive", 8006) not in flows
    assert ("fep", "database", 5432) in flows
    assert ("internet", "fep", 9027) not in flows and ("field-terminal", "fep", 9027) in flows
    assert ("collector", "kafka", 9093) in flows and ("grafana", "kafka", 9093) not in flows
    assert ("archive", "collector", 8002) not in flows, "services do not call each other but identity"
