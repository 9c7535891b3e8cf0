"""What the Kubernetes tests read: the manifests of deploy/kubernetes, as a cluster reads them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
MAKE_CERTS = K8S / "make-certs.sh"
CLUSTER_DOMAIN = "cluster.local"
METADATA_NAME = "kubernetes.io/metadata.name"

Doc = dict[str, Any]


def manifest_files() -> list[Path]:
    """Every YAML file of the folder but the kustomization (which is not a cluster object)."""
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs() -> list[tuple[str, Doc]]:
    """Every object of every manifest, with its file name."""
    return [
        (path.name, doc)
        for path in manifest_files()
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


DOCS = load_docs()


def objects(kind: str) -> list[Doc]:
    """Every object of ``kind``."""
    return [doc for _, doc in DOCS if doc["kind"] == kind]


def one(kind: str, name: str) -> Doc:
    """The one object of ``kind`` called ``name``."""
    found = [doc for doc in objects(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    """The pod template's spec of a Deployment or StatefulSet."""
    return dict(workload["spec"]["template"]["spec"])


def pod_labels(workload: Doc) -> dict[str, str]:
    """The labels of a workload's pods."""
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def container(workload: Doc, name: str) -> Doc:
    """One container of a workload's pods."""
    found = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    assert len(found) == 1
    return found[0]


def all_containers(workload: Doc) -> list[Doc]:
    """Init containers and containers of a workload's pods."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects ``labels``."""
    if selector is None:
        return False
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(name: str) -> dict[str, str]:
    """A namespace's labels as the cluster sets them (with kubernetes.io/metadata.name)."""
    declared = [ns for ns in objects("Namespace") if ns["metadata"]["name"] == name]
    labels = dict(declared[0]["metadata"].get("labels", {})) if declared else {}
    return {**labels, METADATA_NAME: name}


def env_of(workload: Doc, container_name: str) -> dict[str, str]:
    """A container's environment: its ConfigMaps' data, then its literal ``env`` values."""
    result: dict[str, str] = {}
    spec = container(workload, container_name)
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            result.update(one("ConfigMap", source["configMapRef"]["name"])["data"])
    result.update({e["name"]: e["value"] for e in spec.get("env", []) if "value" in e})
    return result


BOT = one("Deployment", "docker-tutor")
ENGINES = one("StatefulSet", "sandbox")
DATABASE = one("StatefulSet", "postgres")
CONFIG = one("ConfigMap", "docker-tutor")["data"]


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("2", "1500m") in cores."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)



def engine_addresses() -> list[str]:
    """The addresses the StatefulSet's pods have, by their headless Service's DNS names."""
    service = one("Service", ENGINES["spec"]["serviceName"])
    namespace = ENGINES["metadata"]["namespace"]
    port = service["spec"]["ports"][0]["port"]
    return [
        f"tcp://{ENGINES['metadata']['name']}-{i}.{service['metadata']['name']}.{namespace}"
        f".svc.{CLUSTER_DOMAIN}:{port}"
        for i in range(ENGINES["spec"]["replicas"])
    ]


def engine_hosts() -> list[str]:
    """The engines' host names, as in TUTOR_ENGINES without scheme and port."""
    return [re.sub(r"^tcp://|:\d+$", "", address) for address in engine_addresses()]
