"""Page weight and load time, before and after: each checkout served by gunicorn, read by Chromium.

Usage: python bench/bench_pages.py [--before PATH] [--rounds N] [--width PX]
Starts the Procfile's `web:` command (gunicorn, --preload, two workers) on a free 127.0.0.1 port
for each checkout in turn, BEFORE (``--before PATH``: a worktree of an older commit, e.g.
``git worktree add ../before HEAD~1``; without it, AFTER alone; served with
PYTHONPATH=PATH/LSTM_predictor:PATH so that its own package and app are imported; the bench
checks which ones are) and AFTER (this working tree), each with PRICE_SOURCE=sample, its own
temporary CACHE_DIR and SQLite DATABASE_URL. It uploads one CSV made from the sample's IBM prices
through POST /predict and follows it to its page, then opens each page in Debian's headless
Chromium (Playwright, the browser tests' flags) --rounds times: cold, in a fresh browser
context, then warm, a second visit in the same context. From Chrome's DevTools protocol it sums
the bytes transferred (Network.loadingFinished's encodedDataLength: headers and encoded bodies),
the decoded bytes (Network.dataReceived), and counts the requests that went to the server (not
answered from the browser's cache); the load time is the navigation's ``loadEventEnd`` from the
page's own Navigation Timing. Each figure is the median over rounds; BEFORE and AFTER are
measured in alternate rounds so a busy moment of the machine does not land on one alone. Prints
one Markdown table with the two side by side and their ratio. Never pass/fail. Without the
BEFORE checkout it says so and prints AFTER only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadkit import ROOT, commands, gunicorn  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAGES = ["/", "/?ticker=IBM", "/predict", "/prediction/MSFT?horizon=30",
         "/prediction/IBM?horizon=10&as_of=2012-06-01", "upload", "/forecasts", "/api/v1/docs"]
MAX_ROUNDS = 10
NAVIGATION_TIMEOUT_MS = 30_000
# What each visit reports: the bytes over the wire, decoded, requests to the server, load in ms.
FIGURES = ("transferred", "decoded", "requests", "load_ms")


def check_imports(tree: Path, env: dict) -> None:
    """Stop unless ``tree``'s own stockPredictor and Flask_webapp are what ``env`` imports there."""
    found = subprocess.run(
        [sys.executable, "-c", "import stockPredictor, Flask_webapp; "
         "print(stockPredictor.__file__); print(Flask_webapp.__file__)"],
        cwd=tree, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    paths = [Path(line) for line in found.stdout.split()]
    if found.returncode or len(paths) != 2 or not all(p.is_relative_to(tree) for p in paths):
        raise SystemExit(f"serving {tree} imports {paths or found.stderr[-500:]}, "
                         f"not the package and app of {tree}")


def sample_csv() -> bytes:
    """The sample's IBM prices in Yahoo's export layout: the upload every checkout is sent."""
    from stockPredictor.data.sample import from_sample

    frame = from_sample("IBM")
    rows = "".join(f"{d:%Y-%m-%d},{r.open},{r.high},{r.low},{r.close},{r.close},{r.volume:.0f}\n"
                   for d, r in zip(frame.index, frame.itertuples()))
    return ("Date,Open,High,Low,Close,Adj Close,Volume\n" + rows).encode()


def upload_page(base: str, csv: bytes) -> str:
    """POST the CSV to /predict and return the path of its page (a redirect's, or its link)."""
    boundary = "bench" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             .encode() for name, value in (("ticker", ""), ("horizon", "10"))]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="ibm.csv"\r\nContent-Type: text/csv\r\n\r\n'.encode() + csv + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/predict", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as answer:  # follows a 303 to the page
        final, page = answer.geturl(), answer.read().decode()
    # A redirect's address, or the page's permanent link (the band links add their level).
    found = re.match(r"/prediction/upload/(\d+)", final[len(base):]) or re.search(
        r'href="/prediction/upload/(\d+)', page)
    if not found:
        raise SystemExit(f"the upload answered {final} with no link to its page")
    return f"/prediction/upload/{found.group(1)}?horizon=10"


class Visits:
    """One browser context at a time, with the DevTools protocol's network events counted."""

    def __init__(self, browser, width: int):
        self.browser, self.width = browser, width

    def cold_and_warm(self, url: str) -> tuple[dict, dict]:
        """A first visit in a fresh context, then a second visit to the same URL in it."""
        context = self.browser.new_context(viewport={"width": self.width, "height": 900})
        try:
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            events: dict[str, list] = {"finished": [], "data": [], "cached": set(), "sent": set()}
            cdp.on("Network.requestWillBeSent", lambda e: events["sent"].add(e["requestId"]))
            cdp.on("Network.requestServedFromCache",
                   lambda e: events["cached"].add(e["requestId"]))
            cdp.on("Network.responseReceived", lambda e: events["cached"].add(e["requestId"])
                   if e["response"].get("fromDiskCache") else None)
            cdp.on("Network.dataReceived", lambda e: events["data"].append(e["dataLength"]))
            cdp.on("Network.loadingFinished",
                   lambda e: events["finished"].append(e["encodedDataLength"]))
            cdp.send("Network.enable")
            return self._visit(page, url, events), self._visit(page, url, events)
        finally:
            context.close()

    @staticmethod
    def _visit(page, url: str, events: dict) -> dict:
        for kept in events.values():
            kept.clear()
        page.goto(url, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
        # loadEventEnd is set once the load handlers have returned; then what scripts fetch.
        load = page.wait_for_function(
            "() => performance.getEntriesByType('navigation')[0]?.loadEventEnd",
            timeout=NAVIGATION_TIMEOUT_MS).json_value()
        page.wait_for_load_state("networkidle", timeout=NAVIGATION_TIMEOUT_MS)
        return {"transferred": sum(events["finished"]), "decoded": sum(events["data"]),
                "requests": len(events["sent"] - events["cached"]), "load_ms": load}


def serve(tree: Path, stack: ExitStack, scratch: Path) -> str:
    """Start the Procfile's gunicorn for ``tree``; its base URL."""
    folder = Path(tempfile.mkdtemp(prefix=f"{tree.name}-", dir=scratch))
    env = {"PRICE_SOURCE": "sample", "CACHE_DIR": str(folder / "cache"),
           "DATABASE_URL": f"sqlite:///{folder / 'pages.db'}", "SECRET_KEY": "bench-pages"}
    if tree != ROOT:
        env["PYTHONPATH"] = f"{tree / 'LSTM_predictor'}:{tree}"
    check_imports(tree, env)
    command = f"cd {shlex.quote(str(tree))} && exec {commands()['app']}"
    server = stack.enter_context(gunicorn(command, env=env))
    return server.base


def measure(trees: dict[str, Path], rounds: int, width: int) -> tuple[dict, dict]:
    """Each page's medians per checkout, cold and warm; and each checkout's upload page."""
    from playwright.sync_api import sync_playwright

    csv = sample_csv()
    runs = {name: {path: {"cold": [], "warm": []} for path in PAGES} for name in trees}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-pages-") as scratch:
        bases = {name: serve(tree, stack, Path(scratch)) for name, tree in trees.items()}
        uploads = {name: upload_page(base, csv) for name, base in bases.items()}
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        visits = Visits(browser, width)
        for _ in range(rounds):
            for name, base in bases.items():
                for path in PAGES:
                    url = base + (uploads[name] if path == "upload" else path)
                    cold, warm = visits.cold_and_warm(url)
                    runs[name][path]["cold"].append(cold)
                    runs[name][path]["warm"].append(warm)
    return {name: {path: {visit: {figure: statistics.median(v[figure] for v in values)
                                  for figure in FIGURES}
                          for visit, values in by_visit.items()}
                   for path, by_visit in pages.items()}
            for name, pages in runs.items()}, uploads


def _kib(size: float) -> str:
    return f"{size / 1024:,.1f} KiB"


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}x" if before else "-"


def print_table(results: dict, uploads: dict) -> None:
    """One Markdown row per page and visit: BEFORE and AFTER side by side, and AFTER/BEFORE."""
    names = list(results)
    both = len(names) == 2
    header = ["page", "visit"]
    for label in ("transferred", "decoded", "requests", "load"):
        header += [f"{label} {n}" for n in names] + (["after/before"] if both else [])
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    totals = {n: {v: dict.fromkeys(FIGURES, 0.0) for v in ("cold", "warm")} for n in names}
    rows = [(p, v) for p in PAGES for v in ("cold", "warm")]
    for path, visit in rows + [("all pages", "cold"), ("all pages", "warm")]:
        if path == "all pages":
            figures = {n: totals[n][visit] for n in names}
        else:
            figures = {n: results[n][path][visit] for n in names}
            for n in names:
                for figure in FIGURES:
                    totals[n][visit][figure] += figures[n][figure]
        label = "an upload's page (IBM CSV)" if path == "upload" else path
        cells = [f"**{label}**" if path == "all pages" else f"`{label}`", visit]
        for figure, show in (("transferred", _kib), ("decoded", _kib),
                             ("requests", lambda x: f"{x:g}"),
                             ("load_ms", lambda x: f"{x:,.0f} ms")):
            cells += [show(figures[n][figure]) for n in names]
            if both:
                cells.append(_ratio(figures[names[1]][figure], figures[names[0]][figure]))
        print("| " + " | ".join(cells) + " |")
    print(f"\nUploads: {', '.join(f'{n} {u}' for n, u in uploads.items())}")


def main() -> None:
    """Measure both checkouts and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, default=None,
                        help="a checkout of an older commit to compare with (default: none)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds {args.rounds}: expected 1 to {MAX_ROUNDS}")
    trees = {}
    before = args.before.resolve() if args.before else None
    if before and (before / "Flask_webapp" / "wsgi.py").is_file() and before != ROOT:
        trees["before"] = before
    elif before:
        print(f"No BEFORE checkout at {args.before} (no Flask_webapp/wsgi.py there): "
              "AFTER only.\n")
    trees["after"] = ROOT
    started = time.monotonic()
    # tests.servers prints each server's whole log as it stops: keep only its trouble.
    with contextlib.redirect_stdout(io.StringIO()) as logs:
        results, uploads = measure(trees, args.rounds, args.width)
    trouble = [line for line in logs.getvalue().splitlines()
               if any(mark in line for mark in ("[ERROR]", "[CRITICAL]", "Traceback", "Error:"))]
    if trouble:
        print("The servers reported:\n" + "\n".join(trouble[:10]) + "\n")
    print(f"Page weight and load time (bench/bench_pages.py): the Procfile's gunicorn on "
          f"127.0.0.1, PRICE_SOURCE=sample; headless Chromium at {args.width} px; medians of "
          f"{args.rounds} rounds; cold = a fresh browser context, warm = a second visit in it; "
          f"transferred = headers and encoded bodies; requests = those not answered from the "
          f"browser's cache.\n")
    print_table(results, uploads)
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
