"""Serving a stdlib HTTP server on a background thread, started and stopped cleanly."""

from __future__ import annotations

import threading
from socketserver import BaseServer
from typing import Self


class BackgroundServer:
    """A ``socketserver`` server run on a daemon thread; a context manager.

    Subclasses set :attr:`_server` in their constructor and may override
    :meth:`serve_forever` or extend :meth:`start`.
    """

    _server: BaseServer
    thread_name = "http-server"
    poll_interval = 0.25

    _thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called from another one."""
        self._server.serve_forever(poll_interval=self.poll_interval)

    def start(self) -> Self:
        """Serve in a background thread; returns ``self``."""
        self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wait for requests in progress, close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BackgroundServer"]
