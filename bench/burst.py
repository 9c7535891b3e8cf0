"""A burst of prepared HTTP requests posted at once, timed by a light client.

One thread and one event loop hold every connection: a client of 200 threads spends the
machine's CPU (two cores here) on its own scheduling and GIL, and measures itself as
much as the server. Each connection is opened before the clock starts; then every
request is written at once and each answer is timed from its own write to the end of
its body.

Run as ``python -m bench.burst SPEC.json`` (a process of its own, so a benchmark's other
threads do not share its interpreter): the spec is ``{"url": ..., "requests": [[body,
headers], ...]}``; it prints ``{"latencies": [...], "statuses": [...]}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

Prepared = list[tuple[str, dict[str, str]]]


def _request(target: urllib.parse.SplitResult, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {target.path or '/'} HTTP/1.1", f"Host: {target.netloc}",
             f"Content-Length: {len(body)}", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
               go: asyncio.Event) -> tuple[float, int]:
    await go.wait()
    start = time.perf_counter()
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    if length is None:
        await reader.read()
    else:
        await reader.readexactly(length)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed, status


async def _burst(url: str, prepared: Prepared) -> list[tuple[float, int]]:
    target = urllib.parse.urlsplit(url)
    connections = [await asyncio.open_connection(target.hostname, target.port)
                   for _ in prepared]
    go = asyncio.Event()
    tasks = [asyncio.create_task(_one(reader, writer, _request(target, body.encode(), headers), go))
             for (reader, writer), (body, headers) in zip(connections, prepared, strict=True)]
    await asyncio.sleep(0)  # every task waits on the event
    go.set()
    return list(await asyncio.gather(*tasks))


def burst(url: str, prepared: Prepared) -> tuple[list[float], list[int]]:
    """Post every prepared ``(body, headers)`` to ``url`` at once; latencies (s) and statuses."""
    results = asyncio.run(_burst(url, prepared))
    return [r[0] for r in results], [r[1] for r in results]


def burst_process(url: str, prepared: Prepared) -> tuple[list[float], list[int]]:
    """:func:`burst` in a process of its own (see the module docstring)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"url": url, "requests": prepared}, handle)
    try:
        done = subprocess.run([sys.executable, "-m", "bench.burst", handle.name],
                              capture_output=True, text=True, timeout=300, check=True)
    finally:
        os.unlink(handle.name)
    found = json.loads(done.stdout)
    return [float(x) for x in found["latencies"]], [int(x) for x in found["statuses"]]


def main(path: str) -> None:
    """Run the burst a spec file describes; print its latencies and statuses as JSON."""
    spec = json.loads(Path(path).read_text())
    latencies, statuses = burst(spec["url"], [(b, h) for b, h in spec["requests"]])
    print(json.dumps({"latencies": latencies, "statuses": statuses}))


if __name__ == "__main__":
    main(sys.argv[1])
