"""The attacks of bench_abuse.py, each bounded in count and time (abuse_client.py: the HTTP)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from abuse_client import CLIENT_TIMEOUT, Answer, Outcome, call, counts, forecast

SAMPLE = ("AAPL", "GOOG", "IBM", "MSFT", "FB")
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
        "Referer": "https://evil.example/"}


# --- slow clients ------------------------------------------------------------------------------

def slow_clients(port: int, seconds: float, connections: int = 200) -> Outcome:
    """``connections`` slow requests (bench/slow_clients.py's SlowClients) held ``seconds``."""
    from slow_clients import SlowClients

    with SlowClients(port, connections, seconds=seconds + 5) as slow:
        time.sleep(seconds)
        found = slow.outcomes()
    return Outcome(connections, found, f"{connections} connections: 1 in 4 send header lines, "
                   f"the rest a body, a few bytes every 2 s, for {seconds:.0f} s")


# --- a hanging Yahoo ---------------------------------------------------------------------------

class Hanging:
    """A loopback listener that accepts connections and never answers: the HTTPS proxy."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port, self.held = self.sock.getsockname()[1], []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        """Stop listening and drop every held connection."""
        self.sock.close()
        for sock in self.held:
            sock.close()


def hanging_yahoo(port: int, seconds: float, requests: int = 8) -> Outcome:
    """``requests`` concurrent forecasts of tickers nobody has asked for, through the hanging
    proxy; the attack lasts ``seconds`` so that the normal client sees what follows."""
    start = time.monotonic()
    tickers = [f"ZQ{random.randrange(16**5):05X}" for _ in range(requests)]
    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(lambda t: forecast(port, {"ticker": t, "horizon": 5},
                                                   f"198.51.100.{tickers.index(t) + 1}"),
                                tickers))
    time.sleep(max(0.0, seconds - (time.monotonic() - start)))
    slowest = max(a.seconds for a in answers)
    gave_up = f" (the client gives up at {CLIENT_TIMEOUT:.0f} s)" if any(
        a.status == "timeout" for a in answers) else ""
    return Outcome(requests, Counter(a.status for a in answers),
                   f"{requests} unknown tickers at once: slowest {slowest:.1f} s{gave_up}")


# --- storage: uploads, the ledger crawl ---------------------------------------------------------

def upload_flood(port: int, seconds: float, clients: int = 4, most: int = 200) -> Outcome:
    """``clients`` threads sending distinct ~4.9 MB CSV forecasts, addresses varied."""
    from bench_upload import multipart, yahoo_csv

    base, _ = yahoo_csv(4_900_000)
    cut = base.rstrip(b"\n").rfind(b"\n") + 1
    last = base[cut:].split(b",")
    lock, numbers, statuses = threading.Lock(), iter(range(most)), Counter()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            # Distinct content: the last row's volume is the upload's number.
            data = base[:cut] + b",".join([*last[:-1], b"%d\n" % (100_000 + n)])
            body, kind = multipart(data, 4)
            answer = call(port, "POST", "/api/v1/forecast", body,
                          {"Content-Type": kind, "X-Forwarded-For": f"192.0.2.{n % 32 + 1}"},
                          CLIENT_TIMEOUT)
            with lock:
                statuses[answer.status] += 1

    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    return Outcome(sum(statuses.values()), statuses,
                   f"{clients} clients, {len(base) / 1e6:.2f} MB CSVs from 32 addresses")


def crawl_bodies(count: int, seed: int = 20) -> list[dict]:
    """Distinct-looking forecasts: sample tickers (a few unknown ones) x horizon x as_of x level;
    one in seven has no as_of (a live forecast)."""
    import pandas as pd

    rng = random.Random(seed)
    days = pd.bdate_range(end=pd.Timestamp.today().normalize() - pd.Timedelta(days=1),
                          periods=400)[:-30].strftime("%Y-%m-%d")  # within the fake's 500
    bodies = []
    for _ in range(count):
        roll = rng.random()
        ticker = f"QZ{rng.randrange(16**6):06X}" if roll < 0.1 else rng.choice(SAMPLE)
        body = {"ticker": ticker, "horizon": rng.randint(1, 30),
                "level": rng.choice((0.5, 0.8, 0.95))}
        if roll > 1 / 7:
            body["as_of"] = rng.choice(days)
        bodies.append(body)
    return bodies


def closed_loop(port: int, bodies: list[dict], clients: int, seconds: float,
                during=None) -> tuple[Counter, set, int]:
    """``clients`` threads posting ``bodies`` in turn, each from an address of its own, for
    ``seconds``; ``during(start)`` runs in this thread meanwhile. Statuses, live tickers, sent."""
    lock, queue, statuses, live = threading.Lock(), iter(enumerate(bodies)), Counter(), set()
    start = time.monotonic()
    deadline = start + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                n, body = next(queue, (None, None))
            if body is None:
                return
            answer = forecast(port, body, f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250 + 1}")
            kind = answer.json().get("kind") if answer.status == 200 else None
            with lock:
                statuses[answer.status] += 1
                if kind == "live":
                    live.add(body["ticker"])

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        if during is not None:
            during(start)
    finally:  # the clients end with the attack, whatever became of ``during``
        for thread in threads:
            thread.join(seconds + CLIENT_TIMEOUT + 5)
    return statuses, live, sum(statuses.values())


def ledger_crawl(port: int, seconds: float, clients: int = 8) -> Outcome:
    """``clients`` threads asking for distinct forecasts as fast as they are answered."""
    statuses, _, sent = closed_loop(port, crawl_bodies(20_000), clients, seconds)
    return Outcome(sent, statuses, f"{clients} clients; 1 in 10 an unknown ticker, 1 in 7 live")


def live_load(port: int, tickers, seconds: float, clients: int = 4, during=None) -> Outcome:
    """Live forecasts of distinct fake-Yahoo tickers (X<n>), so each answer is a ledger entry."""
    bodies = [{"ticker": f"X{next(tickers)}", "horizon": 5} for _ in range(5000)]
    statuses, live, sent = closed_loop(port, bodies, clients, seconds, during)
    return Outcome(sent, statuses, "", live)


# --- one client's rate ---------------------------------------------------------------------------

def rate(port: int, seconds: float) -> Outcome:
    """One client (one address) sending the same forecast as fast as it is answered."""
    statuses, retry, deadline = Counter(), set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = forecast(port, {"ticker": "IBM", "horizon": 5}, "198.51.100.77")
        statuses[answer.status] += 1
        if answer.status == 429:
            retry.add(answer.headers.get("retry-after", "none"))
    sent = sum(statuses.values())
    note = f"{sent / seconds:.0f} req/s for {seconds:.0f} s"
    if retry:
        note += f"; Retry-After: {', '.join(sorted(retry)[:3])}"
    return Outcome(sent, statuses, note)


# --- cross-site writes ---------------------------------------------------------------------------

def cross_site(port: int, stored) -> Outcome:
    """Cross-site POSTs of a form and the API, and 20 cross-site GETs of forecast pages.

    ``stored()`` says (uploads, ledger entries) in the database now.
    """
    from bench_upload import multipart, yahoo_csv

    import pandas as pd

    statuses, said = Counter(), []
    uploads0, entries0 = stored()
    for path in ("/predict", "/api/v1/forecast"):
        body, kind = multipart(yahoo_csv(30_000, seed=random.randrange(10**6))[0], 4)
        answer = call(port, "POST", path, body, {"Content-Type": kind, **EVIL}, CLIENT_TIMEOUT)
        statuses[answer.status] += 1
        said.append(f"{path} upload {answer.status}")
    answer = call(port, "POST", "/api/v1/forecast", b'{"ticker": "IBM", "horizon": 3}',
                  {"Content-Type": "application/json", **EVIL}, CLIENT_TIMEOUT)
    statuses[answer.status] += 1
    said.append(f"JSON {answer.status}")
    time.sleep(3)  # the ledger writer's interval
    uploads1, entries1 = stored()
    days = pd.bdate_range(end=pd.Timestamp.today().normalize() - pd.Timedelta(days=1),
                          periods=300)[:-40].strftime("%Y-%m-%d")
    gets = Counter()
    for n in range(20):
        answer = call(port, "GET", f"/prediction/IBM?horizon={n % 30 + 1}&as_of={days[7 * n]}",
                      headers=EVIL, timeout=CLIENT_TIMEOUT)
        gets[answer.status] += 1
    statuses.update(gets)
    time.sleep(3)
    entries2 = stored()[1]

    def more(after, before):
        return "?" if after is None or before is None else f"+{after - before}"
    return Outcome(23, statuses, f"{', '.join(said)}; uploads stored {more(uploads1, uploads0)};"
                   f" 20 GETs {counts(gets)}: ledger {more(entries2, entries1)}")


# --- the ledger listing at depth -----------------------------------------------------------------

def listing(port: int, total: int) -> Outcome:
    """The ledger's first page and its deepest at the largest limit offered (200, else 100):
    median ms and bytes per request; the depth by offset, else by following the cursor."""
    statuses, numbers = Counter(), iter(range(1, 10_000))

    def get(path: str) -> Answer:  # each from an address of its own: a crowd reading
        n = next(numbers)
        return call(port, "GET", path, headers={"X-Forwarded-For": f"198.19.{n // 250}."
                                                                   f"{n % 250 + 1}"},
                    timeout=CLIENT_TIMEOUT)

    def timed(path: str, times: int = 5) -> tuple[Answer, float]:
        answers = [get(path) for _ in range(times)]
        statuses.update(a.status for a in answers)
        return answers[-1], float(np.median([a.seconds for a in answers])) * 1000

    for limit in (200, 100, 50):
        first, first_ms = timed(f"/api/v1/forecasts?limit={limit}")
        if first.status == 200:
            break
    depth = max(0, total - limit)
    deep, deep_ms = timed(f"/api/v1/forecasts?limit={limit}&offset={depth}")
    how = f"offset={depth:,}"
    if deep.status != 200:  # no offset: follow the answers' cursor to the last page
        page, hops, start = first, 0, time.monotonic()
        while hops < 1000 and time.monotonic() - start < 120:
            older = page.json().get("older")
            if older is None:
                break
            page, hops = get(f"/api/v1/forecasts?limit={limit}&before={older}"), hops + 1
            statuses[page.status] += 1
        if hops:  # the deepest page, timed as the first: from one past its newest id
            newest = (page.json().get("forecasts") or [{}])[0].get("id")
            deep, deep_ms = (page, page.seconds * 1000) if newest is None else timed(
                f"/api/v1/forecasts?limit={limit}&before={int(newest) + 1}")
            how = f"{hops} pages deep by cursor"
    return Outcome(sum(statuses.values()), statuses,
                   f"limit={limit} on {total:,} entries: first page {first_ms:.0f} ms "
                   f"{len(first.body) / 1e3:.0f} kB; {how}: {deep_ms:.0f} ms "
                   f"{len(deep.body) / 1e3:.0f} kB ({deep.status})")
