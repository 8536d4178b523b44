"""The asgi worker's bridge, in process: whole bodies read on the loop, the WSGI app on threads.

Each test drives ``BufferedWsgi`` as gunicorn's asgi worker does: an HTTP scope, a ``receive``
that hands the body over in chunks (and may stall or disconnect), a ``send`` that records the
answer. The expected values come from HTTP and PEP 3333, not from serving.py: one Cookie line
joined with "; " (RFC 6265 5.4), a de-chunked body with its CONTENT_LENGTH (PEP 3333), 408 for a
body that did not arrive in time, 413 for one over the bound, 503 when the worker is full.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
from flask import Flask, jsonify, request

from Flask_webapp import serving
from Flask_webapp.serving import BufferedWsgi

LIMIT = 5.0  # seconds for any one test's coroutine; each needs well under one


def run(coroutine) -> object:
    """Run one test's coroutine on a fresh loop in a thread of its own, bounded by LIMIT.

    A thread: the browser tests' Playwright keeps an event loop running in the main thread for
    the whole session, where asyncio.run refuses to start another.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, LIMIT)).result()


def scope(method: str = "POST", path: str = "/echo", headers: list | None = None) -> dict:
    """An HTTP scope as gunicorn's asgi worker builds it for one request."""
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers or [],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}


class Client:
    """A client's side of one request: body chunks (each after an optional delay), then its end.

    ``end`` is "done" (the last chunk says more_body False), "stall" (nothing more arrives) or
    "disconnect" (the client goes away).
    """

    def __init__(self, *chunks: bytes, delay: float = 0.0, end: str = "done"):
        self.chunks, self.delay, self.end = list(chunks), delay, end
        self.reads = 0
        self.messages: list[dict] = []

    async def receive(self) -> dict:
        """The next ASGI message from the client."""
        self.reads += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.chunks:
            chunk = self.chunks.pop(0)
            last = not self.chunks and self.end == "done"
            return {"type": "http.request", "body": chunk, "more_body": not last}
        if self.end == "stall":
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        """Record what the bridge answers."""
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        """The answer's status, if one was started."""
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) <= 1, f"one request got {len(starts)} answers: {starts}"
        return starts[0]["status"] if starts else None

    @property
    def headers(self) -> dict:
        """The answer's headers, names and values decoded."""
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {n.decode(): v.decode() for n, v in start["headers"]}

    @property
    def body(self) -> bytes:
        """The answer's body, its chunks joined."""
        return b"".join(m.get("body", b"") for m in self.messages
                        if m["type"] == "http.response.body")

    def json(self) -> dict:
        """The answer's body as JSON."""
        return json.loads(self.body)


async def ask(bridge: BufferedWsgi, client: Client, headers: list | None = None,
              method: str = "POST") -> Client:
    """Serve one request through the bridge and return the client with its answer."""
    await bridge(scope(method, headers=headers), client.receive, client.send)
    return client


class Echo:
    """A plain WSGI app that answers, as JSON, what reached it; it can hold or raise on demand."""

    def __init__(self):
        self.calls = 0
        self.running = 0
        self.most = 0  # the most requests in the app at once
        self.lock = threading.Lock()
        self.hold: Callable[[dict], None] = lambda environ: None

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        """Read the whole body as PEP 3333 allows (CONTENT_LENGTH bytes) and echo it."""
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.hold(environ)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            answer = {"content_length": environ.get("CONTENT_LENGTH"),
                      "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
                      "cookie": environ.get("HTTP_COOKIE"), "body": body.decode("latin1"),
                      "thread": threading.current_thread().name}
        finally:
            with self.lock:
                self.running -= 1
        payload = json.dumps(answer).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(payload)))])
        return [payload]


def flask_app(max_length: int | None = None) -> Flask:
    """A small Flask app that reads the body and the cookies, bounded by MAX_CONTENT_LENGTH."""
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = max_length

    @app.post("/echo")
    def echo():
        return jsonify(length=len(request.get_data()), cookies=request.cookies)
    return app


@pytest.fixture
def bridges():
    """Make bridges; after the test each holds no body bytes and its threads are stopped."""
    made: list[BufferedWsgi] = []

    def make(app: Callable, **kwargs) -> BufferedWsgi:
        made.append(BufferedWsgi(app, **kwargs))
        return made[-1]

    yield make
    for bridge in made:
        bridge.wsgi.executor.shutdown(wait=True)
        assert bridge.buffered == 0, f"{bridge.buffered} body bytes still counted after the test"


def test_two_cookie_lines_reach_the_app_as_one_joined_with_a_semicolon(bridges):
    echo = Echo()
    bridge = bridges(echo)
    client = run(ask(bridge, Client(b""), [(b"cookie", b"a=1"), (b"cookie", b"b=2")], "GET"))
    assert client.status == 200
    assert client.json()["cookie"] == "a=1; b=2"
    # and Flask parses both from it
    flask = bridges(flask_app())
    client = run(ask(flask, Client(b""), [(b"cookie", b"a=1"), (b"cookie", b"b=2")]))
    assert client.json()["cookies"] == {"a": "1", "b": "2"}


def test_a_chunked_body_reaches_the_app_whole_with_its_length(bridges):
    echo = Echo()
    bridge = bridges(echo)
    chunks = (b"alpha,", b"", b"beta,", b"gamma")
    client = run(ask(bridge, Client(*chunks, delay=0.01), [(b"transfer-encoding", b"chunked")]))
    assert client.status == 200
    answer = client.json()
    assert answer["body"] == "alpha,beta,gamma"
    assert answer["content_length"] == "16"
    # The server de-chunked it: an app told both would not know which framing to trust.
    assert answer["transfer_encoding"] is None
    flask = bridges(flask_app(max_length=1000))
    client = run(ask(flask, Client(*chunks), [(b"transfer-encoding", b"chunked")]))
    assert (client.status, client.json()["length"]) == (200, 16)


def test_a_body_within_its_declared_length_is_read_and_answered(bridges):
    bridge = bridges(flask_app(max_length=1000))
    client = run(ask(bridge, Client(b"x" * 600, b"y" * 400), [(b"content-length", b"1000")]))
    assert (client.status, client.json()["length"]) == (200, 1000)
    assert "close" not in client.headers.get("connection", "")


def test_a_declared_length_over_the_bound_is_left_unread_and_answered_413_and_closed(bridges):
    bridge = bridges(flask_app(max_length=1000))
    client = Client(b"x" * 1001)
    run(ask(bridge, client, [(b"content-length", b"1001")]))
    assert client.status == 413
    assert client.reads == 0  # not one byte of it was taken off the connection
    # The unread body is still on the connection, so no further request can follow on it.
    assert client.headers["connection"] == "close"


def test_a_chunked_body_over_the_bound_stops_being_read_and_is_answered_413(bridges):
    bridge = bridges(flask_app(max_length=1000))
    client = Client(*[b"z" * 400] * 10)
    run(ask(bridge, client, [(b"transfer-encoding", b"chunked")]))
    assert client.status == 413
    assert client.reads == 3  # 400 + 400 fit; the third chunk crosses 1000 bytes
    assert client.headers["connection"] == "close"


def test_a_body_that_stalls_past_its_deadline_is_answered_408_without_the_app(bridges):
    echo = Echo()
    bridge = bridges(echo, body_seconds=0.2)
    client = Client(b"part of it", end="stall")
    began = time.monotonic()
    run(ask(bridge, client, [(b"content-length", b"100")]))
    waited = time.monotonic() - began
    assert client.status == 408
    assert client.headers["connection"] == "close"
    assert "0.2 s" in client.json()["message"]
    assert 0.2 <= waited < 2.0
    assert echo.calls == 0


def test_a_client_that_leaves_before_its_body_is_whole_calls_no_app(bridges):
    echo = Echo()
    bridge = bridges(echo)
    client = run(ask(bridge, Client(b"a" * 100, b"b" * 100, end="disconnect"),
                     [(b"content-length", b"1000")]))
    assert echo.calls == 0
    assert client.messages == []  # no one is left to answer


def test_the_worker_buffer_answers_503_to_the_body_that_would_overflow_it(bridges, monkeypatch):
    monkeypatch.setattr(serving, "BUFFER_BYTES", 1000)
    echo = Echo()
    entered, release = threading.Event(), threading.Event()
    echo.hold = lambda environ: (entered.set(), release.wait(LIMIT))
    bridge = bridges(echo)

    async def scenario() -> tuple[Client, Client, Client, Client]:
        # 600 bytes are held while their app has not answered yet
        first = asyncio.create_task(ask(bridge, Client(b"a" * 600)))
        assert await asyncio.to_thread(entered.wait, LIMIT)
        too_much = await ask(bridge, Client(b"b" * 300, b"b" * 200))  # 600 + 500 > 1000
        fits = asyncio.create_task(ask(bridge, Client(b"c" * 400)))    # 600 + 400 = 1000
        await asyncio.sleep(0.05)
        release.set()
        first, fits = await first, await fits
        # An answer lets its body go: 600 bytes fit again.
        again = await ask(bridge, Client(b"d" * 600))
        return first, too_much, fits, again

    try:
        first, too_much, fits, again = run(scenario())
    finally:
        release.set()
    assert [c.status for c in (first, too_much, fits, again)] == [200, 503, 200, 200]
    assert too_much.headers["connection"] == "close"
    assert too_much.json()["error"] and "Traceback" not in too_much.body.decode()
    assert echo.calls == 3


def test_a_slow_reader_of_its_answer_holds_no_body_bytes(bridges, monkeypatch):
    monkeypatch.setattr(serving, "BUFFER_BYTES", 1000)
    bridge = bridges(Echo())

    async def scenario() -> tuple[Client, Client]:
        reading, gate = asyncio.Event(), asyncio.Event()
        slow = Client(b"a" * 600)
        record = slow.send

        async def send(message: dict) -> None:  # the client takes its time over the answer
            if message["type"] == "http.response.body":
                reading.set()
                await gate.wait()
            await record(message)
        slow.send = send
        first = asyncio.create_task(ask(bridge, slow))
        await reading.wait()
        other = await ask(bridge, Client(b"b" * 600))  # 600 + 600 > 1000 if the first still held
        gate.set()
        return await first, other

    slow, other = run(scenario())
    assert (slow.status, other.status) == (200, 200)


def test_a_body_still_arriving_counts_against_the_buffer_and_is_let_go_on_timeout(
        bridges, monkeypatch):
    monkeypatch.setattr(serving, "BUFFER_BYTES", 1000)
    bridge = bridges(Echo(), body_seconds=0.3)

    async def scenario() -> tuple[Client, Client, Client]:
        stalled = asyncio.create_task(ask(bridge, Client(b"s" * 700, end="stall")))
        await asyncio.sleep(0.05)
        during = await ask(bridge, Client(b"x" * 400))  # 700 + 400 > 1000
        stalled = await stalled
        after = await ask(bridge, Client(b"y" * 400))   # the stalled 700 were let go
        return stalled, during, after

    stalled, during, after = run(scenario())
    assert [c.status for c in (stalled, during, after)] == [408, 503, 200]


def test_an_app_that_raises_is_answered_a_json_500_without_its_traceback(bridges):
    def broken(environ: dict, start_response: Callable) -> list[bytes]:
        raise RuntimeError("secret detail at /srv/app/Flask_webapp/api.py")

    bridge = bridges(broken)
    client = run(ask(bridge, Client(b"{}"), [(b"content-length", b"2")]))
    assert client.status == 500
    assert client.headers["content-type"] == "application/json"
    answer = client.json()
    assert answer["error"] and answer["message"]
    text = client.body.decode()
    for leak in ("Traceback", "RuntimeError", "secret", "/srv/app"):
        assert leak not in text


def test_an_app_that_fails_after_answering_is_not_answered_twice(bridges):
    def half(environ: dict, start_response: Callable):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"half"
        raise RuntimeError("cut short")

    bridge = bridges(half)
    client = Client(b"")
    with pytest.raises(RuntimeError):  # gunicorn closes a connection whose answer was cut
        run(ask(bridge, client, method="GET"))
    assert client.status == 200  # and the property checks there was only one answer


def test_uploads_run_one_at_a_time_while_small_bodies_overlap(bridges, monkeypatch):
    monkeypatch.setattr(serving, "HEAVY_BYTES", 100)
    echo = Echo()
    echo.hold = lambda environ: time.sleep(0.05)
    bridge = bridges(echo, threads=4)

    async def many(size: int) -> list[Client]:
        return await asyncio.gather(*[ask(bridge, Client(b"u" * size)) for _ in range(4)])

    uploads = run(many(101))
    assert [c.status for c in uploads] == [200] * 4
    assert echo.most == 1
    echo.most = 0
    small = run(many(100))
    assert [c.status for c in small] == [200] * 4
    assert echo.most > 1


def test_an_upload_in_the_app_leaves_small_requests_their_threads(bridges, monkeypatch):
    monkeypatch.setattr(serving, "HEAVY_BYTES", 100)
    echo = Echo()
    # The upload and the small request each wait for the other inside the app: both must be
    # in it at once, or the barrier breaks and the app raises.
    meet = threading.Barrier(2, timeout=2.0)
    echo.hold = lambda environ: meet.wait()
    bridge = bridges(echo, threads=2)

    async def both() -> list[Client]:
        return await asyncio.gather(ask(bridge, Client(b"U" * 5000)), ask(bridge, Client(b"s")))

    answers = run(both())
    assert [c.status for c in answers] == [200, 200]


def test_the_app_runs_on_a_few_threads_off_the_loop(bridges):
    echo = Echo()
    echo.hold = lambda environ: time.sleep(0.01)
    bridge = bridges(echo, threads=2)

    async def many() -> tuple[list[Client], str]:
        answers = await asyncio.gather(*[ask(bridge, Client(b"q")) for _ in range(8)])
        return answers, threading.current_thread().name

    answers, loop_thread = run(many())
    names = {c.json()["thread"] for c in answers}
    assert loop_thread not in names
    assert 1 <= len(names) <= 2


def test_lifespan_starts_and_shutdown_waits_for_a_request_in_the_app(bridges):
    echo = Echo()
    entered, release = threading.Event(), threading.Event()
    finished: list[str] = []
    echo.hold = lambda environ: (entered.set(), release.wait(LIMIT), finished.append("app"))
    bridge = bridges(echo)
    events: list[str] = []

    async def scenario() -> Client:
        inbox: asyncio.Queue = asyncio.Queue()

        async def lifespan_send(message: dict) -> None:
            events.append(message["type"])

        lifespan = asyncio.create_task(
            bridge({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, lifespan_send))
        await inbox.put({"type": "lifespan.startup"})
        for _ in range(100):  # bounded: startup.complete comes at once
            if events:
                break
            await asyncio.sleep(0.01)
        assert events == ["lifespan.startup.complete"]

        client = Client(b"work")
        original = client.send

        async def send(message: dict) -> None:
            await original(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("answered")
        client.send = send
        task = asyncio.create_task(ask(bridge, client))
        assert await asyncio.to_thread(entered.wait, LIMIT)
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.sleep(0.2)
        assert events == ["lifespan.startup.complete"]  # still waiting for the request
        release.set()
        await asyncio.wait_for(lifespan, LIMIT)
        return await task

    try:
        client = run(scenario())
    finally:
        release.set()
    assert finished == ["app"]
    assert client.status == 200
    assert events == ["lifespan.startup.complete", "answered", "lifespan.shutdown.complete"]
