"""deploy/kubernetes: every manifest is valid Kubernetes, and the parts fit together.

The manifests are checked offline against Kubernetes' own schemas (PyPI's
``kubernetes-validate`` bundles them), then read as a cluster reads them: which pods each
Service, PodDisruptionBudget and NetworkPolicy selects, which engines ``TUTOR_ENGINES``
names, which flags each engine's dockerd gets. No Docker engine is needed.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Mapping

import kubernetes_validate
import pytest
import yaml

from tests.kubernetes_helpers import (
    BOT,
    CONFIG,
    DATABASE,
    DOCS,
    ENGINES,
    K8S,
    Doc,
    all_containers,
    container,
    cpu_cores,
    engine_addresses,
    env_of,
    manifest_files,
    matches,
    namespace_labels,
    objects,
    one,
    pod_labels,
    pod_spec,
)

OLDEST_KUBERNETES = "1.27"
"""The oldest Kubernetes the manifests are for (StatefulSet PVC retention is on from 1.27)."""
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.latest_version())
LEARNERS_PER_CORE = 25
"""From the measured class of 50 on a 2-core engine (docs/deployment.md)."""


# --- schemas and the kustomization ---------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("filename", "doc"), DOCS, ids=[f"{f}:{d['kind']}/{d['metadata']['name']}"
                                                        for f, d in DOCS])
def test_every_manifest_validates_against_the_kubernetes_schema(filename: str, doc: Doc,
                                                                version: str) -> None:
    """Each object validates strictly (no unknown field) against that Kubernetes version's schema."""
    validated = kubernetes_validate.validate(doc, version, strict=True)
    assert validated == ".".join(version.split(".")[:2])  # that version's schema, not an older one


def test_strict_validation_rejects_a_misspelled_field() -> None:
    """The schema check is not a rubber stamp: one misspelled field in the bot fails it."""
    broken = copy.deepcopy(BOT)
    probe = broken["spec"]["template"]["spec"]["containers"][0].pop("readinessProbe")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = probe
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, OLDEST_KUBERNETES, strict=True)


def test_the_kustomization_lists_every_file_in_the_folder() -> None:
    """kustomization.yaml names every manifest, and the folder holds nothing unlisted."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert set(resources) == {p.name for p in manifest_files()}
    present = {p.name for p in K8S.iterdir()}
    assert present == {*resources, "kustomization.yaml", "make-certs.sh"}


def test_kustomize_builds_the_folder_into_every_object() -> None:
    """`kubectl kustomize` (offline) renders exactly the objects of the manifests."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` cannot be tried here")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, built)) == sorted(key(doc) for _, doc in DOCS)


# --- the bot -------------------------------------------------------------------------


def test_the_bot_is_two_replicas_of_serve_with_health_probes_on_3000() -> None:
    """Two replicas run `docker-tutor serve`; every probe asks GET /healthz on port 3000."""
    assert BOT["spec"]["replicas"] == 2
    bot = container(BOT, "bot")
    assert bot["command"] == ["docker-tutor", "serve"]
    ports = {p["name"]: p["containerPort"] for p in bot["ports"]}
    assert env_of(BOT, "bot")["PORT"] == "3000"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = bot[probe]["httpGet"]
        assert check["path"] == "/healthz"
        assert ports.get(check["port"], check["port"]) == 3000


def test_the_bot_pdb_keeps_a_replica_through_disruptions() -> None:
    """The PodDisruptionBudget selects the bot's pods and keeps at least one of two."""
    budget = one("PodDisruptionBudget", "docker-tutor")
    assert matches(budget["spec"]["selector"], pod_labels(BOT))
    assert 1 <= budget["spec"]["minAvailable"] < BOT["spec"]["replicas"]


def test_bot_and_database_run_non_root_on_a_read_only_root() -> None:
    """Every container of the bot and PostgreSQL is non-root, read-only, capability-free."""
    for workload in (BOT, DATABASE):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        for c in all_containers(workload):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert c["resources"]["limits"]["memory"], c["name"]


def test_pods_in_restricted_namespaces_meet_the_restricted_profile() -> None:
    """Pods where Pod Security enforces "restricted" meet it; privilege lives in the sandbox."""
    workloads = [*objects("Deployment"), *objects("StatefulSet")]
    enforced = {ns["metadata"]["name"]: ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                for ns in objects("Namespace")}
    for workload in workloads:
        spec = pod_spec(workload)
        level = enforced[workload["metadata"]["namespace"]]
        assert spec["automountServiceAccountToken"] is False, workload["metadata"]["name"]
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert not any("hostPath" in v for v in spec.get("volumes", []))
        if level == "privileged":
            assert workload is ENGINES
            continue
        assert level == "restricted"
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in all_containers(workload):
            context = c["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert not context.get("privileged", False)


# --- the engines ---------------------------------------------------------------------


def test_the_engines_sit_behind_a_headless_service() -> None:
    """The StatefulSet's serviceName is a headless Service selecting its pods on 2376."""
    service = one("Service", ENGINES["spec"]["serviceName"])
    assert service["metadata"]["namespace"] == ENGINES["metadata"]["namespace"]
    assert service["spec"]["clusterIP"] == "None"
    assert matches({"matchLabels": service["spec"]["selector"]}, pod_labels(ENGINES))
    ports = {p["name"]: p["containerPort"] for p in container(ENGINES, "dockerd")["ports"]}
    assert [ports[p["targetPort"]] for p in service["spec"]["ports"]] == [2376]


def test_tutor_engines_lists_exactly_the_engine_pods_by_stable_names() -> None:
    """TUTOR_ENGINES names each replica once, in order, by its stable DNS name."""
    assert ENGINES["spec"]["replicas"] >= 2
    assert CONFIG["TUTOR_ENGINES"].strip().split(",") == engine_addresses()


def test_every_service_selects_the_pods_of_one_workload() -> None:
    """Each Service's selector matches one workload's pods and names a port they expose."""
    workloads = [*objects("Deployment"), *objects("StatefulSet")]
    for service in objects("Service"):
        selector = {"matchLabels": service["spec"]["selector"]}
        selected = [w for w in workloads if w["metadata"]["namespace"] == service["metadata"]["namespace"]
                    and matches(selector, pod_labels(w))]
        assert len(selected) == 1, service["metadata"]["name"]
        names = {p["name"] for c in pod_spec(selected[0])["containers"] for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def test_every_engine_runs_dockerd_with_userns_remap_and_verified_tls() -> None:
    """Each engine's dockerd remaps users, verifies client certificates, opens no plain port."""
    dockerd = container(ENGINES, "dockerd")
    args = dockerd["args"]
    assert args[0] == "dockerd"
    assert "--userns-remap=default" in args
    assert "--tlsverify" in args
    assert "--host=tcp://0.0.0.0:2376" in args
    assert not [a for a in args if "2375" in a or a.startswith(("--tls=false", "--tlsverify=false"))]
    assert dockerd["securityContext"]["privileged"] is True
    mounts = {m["name"]: m["mountPath"] for m in dockerd["volumeMounts"]}
    secret_dir = mounts["server-tls"]
    for flag in ("--tlscacert", "--tlscert", "--tlskey"):
        values = [a.split("=", 1)[1] for a in args if a.startswith(flag + "=")]
        assert len(values) == 1 and values[0].startswith(secret_dir + "/"), flag
    env = {e["name"]: e for e in dockerd["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert mounts["docker"] == "/var/lib/docker"
    claims = [t["metadata"]["name"] for t in ENGINES["spec"]["volumeClaimTemplates"]]
    assert claims == ["docker"]


def test_the_engine_flags_are_flags_dockerd_knows() -> None:
    """Every --flag given to dockerd appears in `dockerd --help` (a typo would stop the engine)."""
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if dockerd is None:
        pytest.skip("dockerd is not installed here: its flags cannot be listed")
    result = subprocess.run([dockerd, "--help"], capture_output=True, text=True, check=False, timeout=30)
    known = set(re.findall(r"(--[a-z0-9-]+)", result.stdout + result.stderr))
    assert "--userns-remap" in known
    flags = [a.split("=", 1)[0] for a in container(ENGINES, "dockerd")["args"] if a.startswith("--")]
    assert set(flags) <= known


def test_engine_capacity_fits_the_measured_learners_per_core() -> None:
    """TUTOR_ENGINE_CAPACITY is at most 25 learners per core an engine pod is given."""
    capacity = int(CONFIG["TUTOR_ENGINE_CAPACITY"])
    cores = cpu_cores(container(ENGINES, "dockerd")["resources"]["requests"]["cpu"])
    assert 0 < capacity <= LEARNERS_PER_CORE * cores


# --- network policies ----------------------------------------------------------------

Port = tuple[str, int | str]
EVERY_PORT: frozenset[Port] = frozenset({("*", "*")})


def policies_for(workload: Doc, direction: str) -> list[Doc]:
    """NetworkPolicies that select ``workload``'s pods and isolate them in ``direction``."""
    found = []
    for policy in objects("NetworkPolicy"):
        spec = policy["spec"]
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
        if (policy["metadata"]["namespace"] == workload["metadata"]["namespace"]
                and matches(spec["podSelector"], pod_labels(workload)) and direction in types):
            found.append(policy)
    return found


def peer_selects(peer: Doc, policy_namespace: str, namespace: str, labels: Mapping[str, str]) -> bool:
    """Whether a NetworkPolicy peer selects a pod with ``labels`` in ``namespace``."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        in_namespace = matches(peer["namespaceSelector"], namespace_labels(namespace))
    else:
        in_namespace = namespace == policy_namespace
    return in_namespace and ("podSelector" not in peer or matches(peer["podSelector"], labels))


def rule_ports(rule: Doc) -> frozenset[Port]:
    """The (protocol, port) pairs a rule opens; every port when it names none."""
    if not rule.get("ports"):
        return EVERY_PORT
    return frozenset((p.get("protocol", "TCP"), p.get("port", "*")) for p in rule["ports"])


def opened(workload: Doc, direction: str, other: Doc) -> frozenset[Port] | None:
    """Ports ``workload`` may use towards (or from) ``other``'s pods; None: not isolated."""
    policies = policies_for(workload, direction)
    if not policies:
        return None
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    ports: set[Port] = set()
    for policy in policies:
        for rule in policy["spec"].get(key, []):
            if not rule.get(peers) or any(
                peer_selects(peer, policy["metadata"]["namespace"], other["metadata"]["namespace"],
                             pod_labels(other)) for peer in rule[peers]
            ):
                ports |= rule_ports(rule)
    return frozenset(ports)


def reachable(source: Doc, target: Doc) -> frozenset[Port]:
    """Ports on which ``source``'s pods can open connections to ``target``'s pods."""
    out = opened(source, "Egress", target)
    into = opened(target, "Ingress", source)
    assert out is not None and into is not None, "every pod must be isolated both ways"
    if out >= EVERY_PORT:
        return into
    if into >= EVERY_PORT:
        return out
    return out & into


def test_pods_reach_each_other_only_bot_to_engines_and_database() -> None:
    """Between the three workloads, only bot->engines on TCP 2376 and bot->PostgreSQL on 5432."""
    workloads = {"bot": BOT, "sandbox": ENGINES, "database": DATABASE}
    expected = {("bot", "sandbox"): {("TCP", 2376)}, ("bot", "database"): {("TCP", 5432)}}
    for source_name, source in workloads.items():
        for target_name, target in workloads.items():
            got = reachable(source, target)
            assert got == expected.get((source_name, target_name), set()), (source_name, target_name)


def test_engines_and_database_get_no_egress_at_all() -> None:
    """No policy selecting the engines or PostgreSQL allows any egress: no DNS, no internet."""
    for workload in (ENGINES, DATABASE):
        policies = policies_for(workload, "Egress")
        assert policies, workload["metadata"]["name"]
        assert [rule for p in policies for rule in p["spec"].get("egress", [])] == []


def test_bot_egress_is_engines_database_dns_and_public_https_only() -> None:
    """Each bot egress rule is engines:2376, PostgreSQL:5432, kube-dns:53, or public 443."""
    kinds = []
    for policy in policies_for(BOT, "Egress"):
        for rule in policy["spec"].get("egress", []):
            peers, ports = rule["to"], rule_ports(rule)
            if any("ipBlock" in peer for peer in peers):
                assert len(peers) == 1 and ports == {("TCP", 443)}
                block = peers[0]["ipBlock"]
                assert block["cidr"] == "0.0.0.0/0"
                assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
                    block["except"])
                kinds.append("https")
            elif ports == {("UDP", 53), ("TCP", 53)}:
                assert all(peer_selects(peer, "docker-tutor", "kube-system", {"k8s-app": "kube-dns"})
                           for peer in peers)
                assert not any(peer_selects(peer, "docker-tutor", "kube-system", {"k8s-app": "other"})
                               for peer in peers)
                kinds.append("dns")
            elif ports == {("TCP", 2376)}:
                kinds.append("engines")
            else:
                assert ports == {("TCP", 5432)}
                kinds.append("database")
    assert sorted(kinds) == ["database", "dns", "engines", "https"]


def test_bot_takes_ingress_only_on_its_http_port() -> None:
    """Slack's requests may reach the bot on TCP 3000 and on no other port."""
    rules = [rule for p in policies_for(BOT, "Ingress") for rule in p["spec"].get("ingress", [])]
    assert rules
    assert all(rule_ports(rule) == {("TCP", 3000)} for rule in rules)


def test_every_namespace_starts_from_deny_all() -> None:
    """Each namespace has a policy selecting all its pods that allows nothing either way."""
    for namespace in objects("Namespace"):
        name = namespace["metadata"]["name"]
        deny = [p for p in objects("NetworkPolicy") if p["metadata"]["namespace"] == name
                and p["spec"]["podSelector"] == {}]
        assert len(deny) == 1, name
        spec = deny[0]["spec"]
        assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
        assert not spec.get("ingress") and not spec.get("egress")
