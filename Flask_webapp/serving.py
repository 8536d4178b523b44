"""gunicorn's asyncio worker serving the WSGI app: a slow client costs a coroutine, not a thread.

The Procfile runs ``gunicorn Flask_webapp.wsgi:app --worker-class
Flask_webapp.serving.BufferedWorker``. Each worker reads requests on an event loop; only a request
whose body has arrived whole is handed to the WSGI app, on a small pool of threads, and its answer
is written back by the loop. The WSGI side (environ, start_response, the thread pool) is
``a2wsgi.WSGIMiddleware``, handed a receive() that replays the body already read. So a client
that trickles its headers or body, or reads its answer slowly, holds a few kilobytes and no
thread, and the threads stay free for the requests that are ready. Bounds, per worker (README,
"Slow clients and Heroku's router"):

- ``--worker-connections`` connections open; one more is answered 503 and closed.
- the request line and headers within HEADER_SECONDS of connecting, or the connection is closed;
- the body within gunicorn's ``--timeout`` (30 s, Heroku's router's limit), or 408;
- at most BUFFER_BYTES of request bodies held at once, or 503;
- THREADS requests in the app at once, and one body over HEAVY_BYTES (an upload being parsed).

It imports nothing from the app: gunicorn hands it whatever WSGI callable the command names.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from a2wsgi import WSGIMiddleware
from gunicorn.asgi import protocol as asgi_protocol
from gunicorn.workers import gasgi

THREADS = 4              # CPU work holds the GIL; threads overlap database and Yahoo waits
HEADER_SECONDS = 10.0    # a browser or Heroku's router sends its headers in one packet
HEAVY_BYTES = 256 * 1024     # bodies above this are uploads: parsed one at a time per worker
BUFFER_BYTES = 32 * 1024 * 1024  # request bodies held per worker: six 5 MB uploads at once
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

log = logging.getLogger("gunicorn.error")


class BoundedProtocol(asgi_protocol.ASGIProtocol):
    """gunicorn's HTTP/1 protocol with a connection cap and a deadline on the first headers."""

    def connection_made(self, transport) -> None:
        """Count the connection; close it at once past the cap, else start the header clock."""
        super().connection_made(transport)
        if self.worker.nr_conns > self.cfg.worker_connections:
            transport.write(BUSY)
            self._close_transport()
            return
        self.worker.loop.call_later(HEADER_SECONDS, self._headers_due)

    def _headers_due(self) -> None:
        # Later requests on a kept-alive connection are bounded by gunicorn's keepalive timer;
        # the first has no clock of its own.
        if not self._closed and self.req_count <= 1 and self._current_request is None:
            self._keepalive_timeout()


class BufferedWsgi:
    """An ASGI app that reads a request's whole body, then runs a WSGI app on a thread pool."""

    def __init__(self, app: Callable, body_seconds: float = 30.0, threads: int = THREADS):
        self.body_seconds = body_seconds
        # Flask's bound on a body; over it the app answers 413 itself, from the declared length.
        self.max_body = getattr(app, "config", {}).get("MAX_CONTENT_LENGTH")
        # a2wsgi builds the environ and runs the app on its pool of `threads`, made here: in the
        # worker process (BufferedWorker.load_wsgi), after the fork. send_queue_size=0 leaves
        # its queue of answer chunks unbounded, so a thread hands the whole answer over and is
        # free again; a slow reader then waits on the loop, and a thread never waits on a
        # sender that a closed connection has cancelled.
        self.wsgi = WSGIMiddleware(app, workers=threads, send_queue_size=0)
        self.buffered = 0
        self.heavy = asyncio.Semaphore(1)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Serve one ASGI connection scope: lifespan or an HTTP request."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Requests under way finish first. Waited for off the loop: a2wsgi's threads
                # hand their answers to the loop, so blocking it here would deadlock them.
                await asyncio.to_thread(self.wsgi.executor.shutdown, wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        headers = scope.get("headers", [])
        declared = _declared_length(headers)
        over = self.max_body is not None and declared is not None and declared > self.max_body
        body, held = b"", 0
        try:
            if not over:
                async with asyncio.timeout(self.body_seconds):
                    body, over = await self._read(receive)
                held = len(body)
        except TimeoutError:
            await _answer(send, 408, "request_timeout",
                          f"The request body did not arrive within {self.body_seconds:g} s.")
            return
        except _Disconnected:
            return
        except _Busy:
            await _answer(send, 503, "busy", "The server is receiving too many uploads at once; "
                          "try again in a few seconds.")
            return
        # A body over the bound is left unread: its declared length (or one byte over the bound,
        # for a chunked one) makes the app answer its own 413.
        length = (declared or self.max_body + 1) if over else len(body)
        hold = _Hold(self, held)
        started = False

        async def respond(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                hold.release()  # the app has answered: the body is parsed and no longer needed
                if over:  # the body was left unread: the connection cannot carry another request
                    message = {**message, "headers": [*message["headers"],
                                                      (b"connection", b"close")]}
            await send(message)

        try:
            await hold.take(self.heavy if held > HEAVY_BYTES else None)
            await self.wsgi(_wsgi_scope(scope, length), _replay(body), respond)
        except Exception:
            if started:
                raise  # gunicorn closes a connection whose answer was cut short
            log.exception("the WSGI app failed on %s %s", scope["method"], scope["path"])
            await _answer(send, 500, "internal_error", "The server failed to answer this request.")
        finally:
            hold.release()

    async def _read(self, receive: Callable) -> tuple[bytes, bool]:
        """The whole body, counted in the worker's buffer; (b"", True) when over the bound."""
        parts, size = [], 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                if self.max_body is not None and size + len(chunk) > self.max_body:
                    self.buffered -= size
                    return b"", True
                if self.buffered + len(chunk) > BUFFER_BYTES:
                    raise _Busy
                self.buffered += len(chunk)
                size += len(chunk)
                parts.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(parts), False
        except BaseException:  # a timeout or disconnect too: what was held is let go
            self.buffered -= size
            raise


class _Disconnected(Exception):
    """The client went away before its body arrived."""


class _Busy(Exception):
    """The worker already holds BUFFER_BYTES of request bodies."""


class _Hold:
    """A request's share of the worker's bounds: its body's bytes, and the upload slot if taken."""

    def __init__(self, owner: BufferedWsgi, size: int):
        self.owner, self.size, self.slot = owner, size, None

    async def take(self, slot: asyncio.Semaphore | None) -> None:
        """Wait on the loop, holding no thread, for the slot (None for a small body)."""
        if slot is not None:
            await slot.acquire()
            self.slot = slot

    def release(self) -> None:
        """Let both go, once: when the app has answered, or the request ended without it."""
        self.owner.buffered -= self.size
        self.size = 0
        if self.slot is not None:
            self.slot.release()
            self.slot = None


def _replay(body: bytes) -> Callable:
    """An ASGI receive() for a2wsgi: the body read already, whole, so its threads never wait."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop() if messages else {"type": "http.disconnect"}
    return receive


async def _answer(send: Callable, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _declared_length(headers: list) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _wsgi_scope(scope: dict, length: int) -> dict:
    """The scope a2wsgi builds the environ from, for a body already read (or left unread).

    Content-Length is the body as read: a chunked one has none, and Flask reads no body
    without it. Cookie lines are joined with "; " (a2wsgi joins repeated headers with ",").
    The query string a2wsgi decodes as ASCII is ASCII: gunicorn's HTTP/1 parser answers 400 to
    any other byte in a request line.
    """
    headers = [(name, value) for name, value in scope.get("headers", [])
               if name not in (b"content-length", b"transfer-encoding", b"cookie")]
    cookies = [value for name, value in scope.get("headers", []) if name == b"cookie"]
    if cookies:
        headers.append((b"cookie", b"; ".join(cookies)))
    headers.append((b"content-length", str(length).encode("ascii")))
    return {**scope, "headers": headers}


class BufferedWorker(gasgi.ASGIWorker):
    """gunicorn's asgi worker serving a WSGI app through BufferedWsgi, with bounded connections."""

    def init_process(self) -> None:
        """Use the bounded protocol in this worker process, then start as gunicorn's does."""
        gasgi.ASGIProtocol = BoundedProtocol  # the name gasgi's server factory builds from
        super().init_process()

    def load_wsgi(self) -> None:
        """Wrap the WSGI app that the command names (preloaded in the master or not)."""
        super().load_wsgi()
        self.asgi = BufferedWsgi(self.asgi, body_seconds=float(self.cfg.timeout or 30))
