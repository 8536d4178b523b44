"""The HTTP side of bench_abuse.py: one request, the normal client beside each attack, and what
an attack reports.

Every request names a client address in X-Forwarded-For: the normal client's probes and the
attackers' requests come from addresses of their own (a crowd, or a botnet), except the rate
attack, which is one address throughout.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

CLIENT_TIMEOUT = 30.0    # Heroku's router gives up on a request after 30 s
PROBE_TIMEOUT = 10.0     # the normal client gives up sooner, so that it keeps probing


@dataclass
class Answer:
    """One request's outcome: status (or the failure's name), seconds, body, headers."""

    status: int | str
    seconds: float
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    def json(self) -> dict:
        """The body as JSON, or {} when it is not."""
        try:
            found = json.loads(self.body)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}


def call(port: int, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None, timeout: float = PROBE_TIMEOUT) -> Answer:
    """One request on a new connection; a failure or a wait past ``timeout`` is its status."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body, {"Connection": "close", **(headers or {})})
        answer = connection.getresponse()
        data = answer.read()
        result = Answer(answer.status, 0.0, data, {k.lower(): v for k, v in answer.getheaders()})
    except TimeoutError:
        result = Answer("timeout", 0.0)
    except (OSError, http.client.HTTPException) as exc:
        result = Answer(type(exc).__name__, 0.0)
    finally:
        connection.close()
    result.seconds = time.perf_counter() - start
    if result.seconds > timeout:
        result.status = "timeout"
    return result


def forecast(port: int, body: dict, address: str, timeout: float = CLIENT_TIMEOUT) -> Answer:
    """POST /api/v1/forecast with a JSON body from ``address``."""
    return call(port, "POST", "/api/v1/forecast", json.dumps(body).encode(),
                {"Content-Type": "application/json", "X-Forwarded-For": address}, timeout)


def counts(statuses: Counter) -> str:
    """``statuses`` as "200×12, 429×3", most common first."""
    return ", ".join(f"{k}×{n}" for k, n in statuses.most_common()) or "-"


class Normal(threading.Thread):
    """A normal client: a health check, then an IBM forecast, every half second."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.done = port, threading.Event()
        self.health: list[Answer] = []
        self.forecasts: list[Answer] = []

    def run(self) -> None:
        """Probe until stopped, each probe from an address of its own."""
        n = 0
        while not self.done.is_set():
            n += 1
            address = f"203.0.113.{n % 250 + 1}"
            self.health.append(call(self.port, "GET", "/api/v1/healthz",
                                    headers={"X-Forwarded-For": address}))
            self.forecasts.append(forecast(self.port, {"ticker": "IBM", "horizon": 5}, address,
                                           PROBE_TIMEOUT))
            self.done.wait(0.5)

    def stop(self) -> None:
        """End the probes (the one in flight finishes)."""
        self.done.set()
        self.join(PROBE_TIMEOUT * 2 + 5)

    @staticmethod
    def p99(answers: list[Answer]) -> str:
        """The 99th percentile of the answers' times in ms, failures at the time they took."""
        return f"{np.percentile([a.seconds for a in answers], 99) * 1000:.0f}" if answers else "-"

    @staticmethod
    def errors(answers: list[Answer]) -> str:
        """How many of the answers were not 200, of how many."""
        return f"{sum(a.status != 200 for a in answers)}/{len(answers)}"

    def databases(self) -> Counter:
        """What the health checks said: "200 ok, database ok", "503 degraded, database ok,
        ledger failing"..."""
        said = Counter()
        for answer in self.health:
            body = answer.json()
            words = [f"{answer.status} {body.get('status', '-')}"]
            for part in ("database", "ledger"):
                value = body.get(part)
                state = value.get("status") if isinstance(value, dict) else value
                if state:
                    words.append(f"{part} {state}")
            said[", ".join(words)] += 1
        return said

    def dropped(self) -> int | None:
        """The most forecasts a health check said the ledger writer dropped, if it says."""
        found = [a.json().get("ledger", {}).get("dropped") for a in self.health
                 if isinstance(a.json().get("ledger"), dict)]
        found = [n for n in found if isinstance(n, int)]
        return max(found) if found else None


@dataclass
class Outcome:
    """What an attack did: requests sent, their answers, notes, and live forecasts served."""

    sent: int
    statuses: Counter
    notes: str = ""
    live: set | None = None   # tickers whose live forecast was answered: ledger loss applies
