"""A network that accepts every connection and never answers: a hanging Yahoo, on loopback.

Used as the HTTPS proxy (libcurl, under yfinance and curl_cffi, honours ``https_proxy``), it
makes every request Yahoo would get hang at the proxy's CONNECT, through the real code path.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager

# Every variable libcurl reads for a proxy, and those that would exempt a host from it.
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                   "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")


class Listener:
    """Counts the connections it accepted; holds them open, silent, until closed."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)

    def proxy_environment(self) -> dict[str, str]:
        """The environment that sends every HTTP(S) request through this listener."""
        return {**{name: self.url for name in PROXY_VARIABLES},
                **{name: "" for name in NO_PROXY_VARIABLES}}

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._closed.set()
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() in progress (Linux)
        except OSError:
            pass
        self.server.close()
        for connection in self.accepted:
            connection.close()
        self._thread.join(timeout=5)


@contextmanager
def hanging_listener():
    """A Listener for the length of the block."""
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()
