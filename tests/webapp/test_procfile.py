"""The Procfile's own command, run as Heroku runs it, serves forecasts in a small worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DYNO_MB = 512


def procfile_web_command() -> str:
    """The `web:` line of the Procfile, exactly as written."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("Procfile has no web: process")


def children(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
            found += [int(child), *children(int(child))]
    return found


def resident_mb(pid: int) -> float:
    """VmRSS of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_the_procfile_serves_forecasts_within_a_small_dyno(serve, free_port):
    command = procfile_web_command()
    assert command.startswith("gunicorn Flask_webapp.wsgi:app") and "$PORT" in command
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # the venv's gunicorn, as Heroku's PATH has it
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    with serve(command, port, env=env) as server:
        for ticker in ("IBM", "MSFT", "AAPL", "GOOG"):
            status, body = server.post_json("/api/v1/forecast", {"ticker": ticker, "horizon": 4})
            assert status == 200 and len(body["forecast"]) == 4
            assert "Forecast" in server.get(f"/prediction/{ticker}")
        workers = [pid for pid in children(server.pid)
                   if "gunicorn" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) >= 1
        worst = max(resident_mb(pid) for pid in workers)
        print(f"\nworker resident memory: {worst:.0f} MB of a {DYNO_MB} MB dyno")
        assert worst < DYNO_MB / 2


def procfile_processes() -> dict[str, str]:
    """Every process type of the Procfile and its command, in order."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            assert name not in processes, f"Procfile names {name} twice"
            processes[name.strip()] = command.strip()
    return processes


def test_the_procfile_runs_the_training_worker_as_its_own_process():
    processes = procfile_processes()
    assert list(processes) == ["release", "web", "worker"]
    assert processes["worker"] == "stock-predictor worker"
    assert processes["release"] == "stock-predictor db upgrade"


def test_runtime_txt_and_python_version_agree():
    # Heroku reads .python-version; a runtime.txt, when present, wins (with a deprecation
    # warning), so both name the same version, major.minor only: the latest patch at each build.
    runtime = (ROOT / "runtime.txt").read_text().strip()
    version = (ROOT / ".python-version").read_text().strip()
    assert runtime == f"python-{version}"
    assert len(version.split(".")) == 2 and all(part.isdigit() for part in version.split("."))
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"  # the tests' Python
