"""The cost of the workspace kept in the engine (the host folder is gone: 0.6 ms per edit).

``edit`` through the engine is a volume check, a
helper container created (never started), a path stat per folder, an archive put and
the helper removed. Reads for checks go the same way. The figures say what moving the
workspace into the engine (issue 11, finding 1) costs per ``edit`` and per check.
"""

from __future__ import annotations

import secrets

import docker

import bench
from bot.config import Settings
from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.pool.janitor import purge_prefix
from bot.sandbox.workspace.volume import EngineWorkspace


def run(session: bench.BenchSession) -> None:
    """Time engine edits, engine reads and a listing."""
    prefix = "dtb" + secrets.token_hex(3)
    settings = Settings(database_url="sqlite://", namespace=prefix)
    sandbox = Sandbox(settings, allowed_images=["busybox"])
    person = Person("bench", "edit")
    ws = EngineWorkspace(sandbox.client, sandbox.namespace(person),
                         host_limits=sandbox._host_limits())
    text = "hello from the host\n" * 20
    runs = 3 if session.quick else session.runs
    try:
        session.time("edit notes.txt through the engine",
                     lambda: ws.write("notes.txt", text), runs=runs, memory=False)
        session.time("edit src/app/main.py through the engine (2 folders)",
                     lambda: ws.write("src/app/main.py", text), runs=runs, memory=False)
        got = session.time("read notes.txt through the engine (a check)",
                           lambda: ws.read("notes.txt"), runs=runs, memory=False)
        assert got == text, got
        entries, complete = session.time("list the workspace through the engine",
                                          ws.listing, runs=runs, memory=False)
        assert complete, entries
        assert len(entries) == 4, entries
        session.note("An engine edit = volume check + helper create + 1 stat per folder + "
                     "archive put + helper remove; the helper is never started.")
    finally:
        ws.remove()
        client = docker.from_env()
        purge_prefix(client, prefix)
        client.close()
        sandbox.close()
