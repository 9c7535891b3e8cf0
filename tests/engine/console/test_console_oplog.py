"""No background line on the learner's terminal (finding 8 of the trust issue).

While other tutor processes used the same engine, the console printed the disk watcher's
warning and a 30-line traceback in the middle of the prompt. Background threads now log
to the operator's file; the terminal shows only what the learner's own line caused.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import docker
import pytest

from bot.config import Settings
from bot.console.oplog import divert_background
from bot.sandbox.disk.meter import LABEL_OWN
from bot.sandbox.pool.janitor import purge_prefix


def test_background_records_go_to_the_file_and_never_to_the_terminal(tmp_path: Path) -> None:
    """A warning with a traceback from another thread reaches the file only; the main thread's both."""
    root = logging.getLogger("oplog-test")
    root.propagate = False
    screen = io.StringIO()
    root.addHandler(logging.StreamHandler(screen))
    handler = divert_background(tmp_path / "ops" / "console.log", root)
    try:
        def background() -> None:
            try:
                raise RuntimeError("a disk usage operation is already running")
            except RuntimeError:
                root.warning("the disk watcher could not reach the engine", exc_info=True)

        thread = threading.Thread(target=background, name="disk-watch")
        thread.start()
        thread.join()
        root.warning("the learner's own line failed")
    finally:
        root.removeHandler(handler)
        handler.close()
    assert screen.getvalue() == "the learner's own line failed\n"
    logged = (tmp_path / "ops" / "console.log").read_text()
    assert "disk-watch" in logged and "Traceback" in logged and "learner's own line" in logged


@pytest.mark.docker
def test_a_failing_disk_watcher_says_nothing_on_the_console(
    settings: Settings, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The real console, its watcher looking every 0.25 s at a meter that will not run: a quiet terminal."""
    broken = docker_client.containers.create(  # the meter's name, but a command that ends
        "busybox", ["true"], name=f"{settings.namespace}-disk-meter", network_mode="none",
        labels={LABEL_OWN: settings.namespace})
    env = {**os.environ, "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_NAMESPACE": settings.namespace, "TUTOR_DISK_CHECK_SECONDS": "0.25"}
    env.pop("SLACK_BOT_TOKEN", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "console", "--user", "ivy"],
            input="docker run -d --name s busybox sleep 60\ndocker run --rm busybox sleep 3\n"
                  "docker ps\n", capture_output=True, text=True, env=env, timeout=120,
            check=False)
    finally:
        purge_prefix(docker_client, settings.namespace)
    assert result.returncode == 0, result.stderr
    assert "CONTAINER ID" in result.stdout
    for word in ("WARNING", "Traceback", "disk"):
        assert word not in result.stderr and word not in result.stdout, result.stderr
    logged = (tmp_path / "data" / "console.log").read_text()
    assert "disk meter" in logged, logged
    assert broken.id not in result.stdout
