"""The acknowledging processes ask for a higher CPU priority, and keep theirs when not allowed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROBE = "from handlers.web.server import raise_priority; print(raise_priority())"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("setpriv") is None
    or os.getpriority(os.PRIO_PROCESS, 0) != 0,
    reason="needs Linux, root at nice 0 and setpriv to show both the raise and its refusal")


def _probe(nice: str, *, capable: bool) -> int:
    """What ``raise_priority`` gives a fresh process asking for ``nice``."""
    drop = [] if capable else ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--"]
    done = subprocess.run([*drop, sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True,
                          env={**os.environ, "TUTOR_HTTP_NICE": nice})
    return int(done.stdout.strip().splitlines()[-1])


def test_an_allowed_process_takes_the_priority_it_asks_for() -> None:
    """With CAP_SYS_NICE the acknowledging process gets the nice it asks for (-10 by default)."""
    assert _probe("-10", capable=True) == -10
    assert _probe("-3", capable=True) == -3


def test_a_process_not_allowed_keeps_its_priority_and_goes_on() -> None:
    """Without the capability (and no nice limit) the raise is refused; the process keeps 0."""
    if os.getpriority(os.PRIO_PROCESS, 0) != 0 or _nice_limit() > 20:
        pytest.skip("this machine's nice limit allows the raise without the capability")
    assert _probe("-10", capable=False) == 0
    assert _probe("0", capable=True) == 0


def _nice_limit() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NICE)[0]
