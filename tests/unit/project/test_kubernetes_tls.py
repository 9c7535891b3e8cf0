"""deploy/kubernetes/make-certs.sh: the TLS material between the bot and its engines.

The script is run for real; its files are the ones the manifests' pods open, and its
certificates complete (or refuse) real TLS handshakes under the engines' DNS names, as
dockerd ``--tlsverify`` and the bot's client do. No Docker engine is needed.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from tests.kubernetes_helpers import (
    BOT,
    ENGINES,
    MAKE_CERTS,
    container,
    engine_hosts,
    env_of,
    pod_spec,
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """make-certs.sh run for as many engines as the StatefulSet has; its folder and output."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: make-certs.sh cannot run")
    out = tmp_path_factory.mktemp("certs") / "tutor-certs"
    result = subprocess.run(
        ["sh", str(MAKE_CERTS), str(out)], capture_output=True, text=True, check=False, timeout=120,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "ENGINES": str(ENGINES["spec"]["replicas"])},
    )
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def secret_in(output: str, namespace: str) -> str:
    """The Secret that make-certs.sh tells the operator to create in ``namespace``."""
    found = re.findall(rf"kubectl -n {namespace} create secret generic (\S+) ", output)
    assert len(found) == 1
    return str(found[0])


def test_make_certs_writes_the_files_every_engine_opens(certs: tuple[Path, str]) -> None:
    """For each engine pod, the Secret files its dockerd flags name are made, in that Secret."""
    out, output = certs
    volume = next(v for v in pod_spec(ENGINES)["volumes"] if v["name"] == "server-tls")
    assert volume["secret"]["secretName"] == secret_in(output, ENGINES["metadata"]["namespace"])
    mount = "/certs/server/"
    paths = [a.split("=", 1)[1] for a in container(ENGINES, "dockerd")["args"] if a.startswith("--tls")
             and "=" in a]
    for i in range(ENGINES["spec"]["replicas"]):
        pod = f"{ENGINES['metadata']['name']}-{i}"
        for path in paths:
            assert path.startswith(mount)
            assert (out / "server" / path[len(mount):].replace("$(POD_NAME)", pod)).is_file(), path
    made = {p.name for p in (out / "server").iterdir()}
    assert len(made) == 1 + 2 * ENGINES["spec"]["replicas"]


def test_the_bot_has_a_certificate_folder_per_engine_and_a_fallback(certs: tuple[Path, str]) -> None:
    """TUTOR_ENGINE_CERTS holds <host>/{ca,cert,key}.pem for each engine; DOCKER_CERT_PATH too."""
    _, output = certs
    env = env_of(BOT, "bot")
    mounts = {m["name"]: m["mountPath"] for m in container(BOT, "bot")["volumeMounts"]}
    assert mounts["engine-certs"] == env["TUTOR_ENGINE_CERTS"]
    assert env["DOCKER_TLS_VERIFY"] == "1"
    volume = next(v for v in pod_spec(BOT)["volumes"] if v["name"] == "engine-certs")
    sources = volume["projected"]["sources"]
    assert {s["secret"]["name"] for s in sources} == {secret_in(output, BOT["metadata"]["namespace"])}
    folders: dict[str, set[str]] = {}
    for item in (i for s in sources for i in s["secret"]["items"]):
        folder, name = item["path"].rsplit("/", 1)
        assert item["key"] == name
        folders.setdefault(folder, set()).add(name)
    hosts = set(engine_hosts())
    fallback = Path(env["DOCKER_CERT_PATH"]).relative_to(env["TUTOR_ENGINE_CERTS"]).as_posix()
    assert set(folders) == {*hosts, fallback}
    assert all(files == {"ca.pem", "cert.pem", "key.pem"} for files in folders.values())


def handshake(out: Path, engine: str, hostname: str, *, client_cert: bool = True) -> tuple[str, str]:
    """A TLS connection from the bot's material to ``engine``'s; what each side saw."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(out / "server" / f"{engine}-cert.pem", out / "server" / f"{engine}-key.pem")
    server.load_verify_locations(out / "server" / "ca.pem")
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=str(out / "client" / "ca.pem"))
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    if client_cert:
        client.load_cert_chain(out / "client" / "cert.pem", out / "client" / "key.pem")
    seen = {"server": "no connection"}

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
                    seen["server"] = "ok"
            except (ssl.SSLError, OSError) as exc:
                seen["server"] = type(exc).__name__
            finally:
                conn.close()

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
                    client.wrap_socket(raw, server_hostname=hostname) as tls:
                seen["client"] = tls.recv(2).decode() or "closed"
        except (ssl.SSLError, OSError) as exc:
            seen["client"] = type(exc).__name__
        thread.join(timeout=10)
    return seen["client"], seen["server"]


def test_the_certificates_complete_mutual_tls_under_each_engine_name(certs: tuple[Path, str]) -> None:
    """The bot's client material connects to each engine by the name TUTOR_ENGINES gives it."""
    out, _ = certs
    for i, host in enumerate(engine_hosts()):
        assert handshake(out, f"sandbox-{i}", host) == ("ok", "ok")


def test_an_engine_certificate_is_good_for_that_engine_only(certs: tuple[Path, str]) -> None:
    """Engine 1's certificate does not pass for engine 0's name: one certificate per engine."""
    out, _ = certs
    host0 = engine_hosts()[0]
    client, _ = handshake(out, "sandbox-1", host0)
    assert client == "SSLCertVerificationError"


def test_an_engine_refuses_a_client_without_a_certificate(certs: tuple[Path, str]) -> None:
    """As with dockerd --tlsverify, a client that shows no certificate gets no connection."""
    out, _ = certs
    host = engine_hosts()[0]
    client, server = handshake(out, "sandbox-0", host, client_cert=False)
    assert server == "SSLError"
    assert client != "ok"


def test_make_certs_keeps_its_ca_when_run_again(tmp_path: Path) -> None:
    """A second run (more engines) keeps the CA, so the bot's old client certificate still works."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: make-certs.sh cannot run")
    out = tmp_path / "certs"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "ENGINES": "1"}
    subprocess.run(["sh", str(MAKE_CERTS), str(out)], check=True, capture_output=True, env=env, timeout=120)
    ca = (out / "ca" / "ca.pem").read_bytes()
    old_client = tmp_path / "old-client"
    shutil.copytree(out / "client", old_client)
    subprocess.run(["sh", str(MAKE_CERTS), str(out)], check=True, capture_output=True,
                   env={**env, "ENGINES": "3"}, timeout=120)
    assert (out / "ca" / "ca.pem").read_bytes() == ca
    shutil.rmtree(out / "client")
    shutil.copytree(old_client, out / "client")
    host = "sandbox-2.sandbox.docker-tutor-sandbox.svc.cluster.local"
    assert handshake(out, "sandbox-2", host) == ("ok", "ok")


def test_make_certs_refuses_a_bad_engine_count(tmp_path: Path) -> None:
    """ENGINES that is not a positive whole number stops the script with a one-line reason."""
    for bad in ("two", "0", "-1"):
        result = subprocess.run(["sh", str(MAKE_CERTS), str(tmp_path / "x")], capture_output=True,
                                text=True, check=False, env={"PATH": "/usr/bin:/bin", "ENGINES": bad})
        assert result.returncode == 2
        assert result.stderr.startswith("make-certs.sh: ENGINES must be")
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "x").exists()
