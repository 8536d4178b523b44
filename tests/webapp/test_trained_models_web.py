"""Web processes serve a model trained after they started, without a restart; none needs it."""

from __future__ import annotations

import os
import shutil
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from stockPredictor import store
from stockPredictor.store import model_versions

from tests.servers import free_port
from tests.webapp.test_procfile import procfile_web_command

ROOT = Path(__file__).resolve().parents[2]
IBM = ROOT / "Flask_webapp" / "models" / "ibm"


def forecast_model(server, ticker: str) -> str:
    """The name of the model that served a 3-day forecast of ``ticker``."""
    status, body = server.post_json("/api/v1/forecast", {"ticker": ticker, "horizon": 3})
    assert status == 200, body
    assert len(body["forecast"]) == 3
    return body["model"]


def save_version(url: str, folder: Path, name: str) -> None:
    """The committed IBM model's files, saved as MSFT's default version ``name``."""
    shutil.copytree(IBM, folder)
    engine = store.engine_for(url)
    try:
        model_versions.save(engine, folder, name=name, job_token=None, ticker="MSFT",
                            scope="ticker", is_default=True,
                            summary={"arch": "lstm", "tickers": ["MSFT"]}, keep=50)
    finally:
        engine.dispose()


def test_two_web_processes_serve_a_model_saved_after_they_started(serve, empty_url, tmp_path):
    command = procfile_web_command()
    bin_dir = str(Path(sys.executable).parent)  # the venv's gunicorn, as Heroku's PATH has it
    with ExitStack() as stack:
        servers = []
        for index in range(2):  # two dynos: one database, a disk each
            port = free_port()
            env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
                   "DATABASE_URL": empty_url, "MODEL_POLL_S": "1", "WEB_CONCURRENCY": "2",
                   "CACHE_DIR": str(tmp_path / f"cache{index}"), "PRELOAD_TABLES": "0",
                   "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
            servers.append(stack.enter_context(serve(command, port, env=env)))
        for server in servers:
            assert forecast_model(server, "MSFT") == "general"
        name = "msft-lstm-0a1b2c"
        save_version(empty_url, tmp_path / "made" / name, name)
        saved = time.monotonic()
        for server in servers:
            seen = None
            for _ in range(120):  # bounded in count and in time (~30 s)
                seen = forecast_model(server, "MSFT")
                if seen == name or time.monotonic() - saved > 30:
                    break
                time.sleep(0.25)
            assert seen == name
        print(f"\nboth processes served {name} {time.monotonic() - saved:.1f} s after it "
              "was saved")
        # Past one poll interval every worker of both has looked: each answer names it.
        time.sleep(1.2)
        for server in servers:
            assert {forecast_model(server, "MSFT") for _ in range(6)} == {name}
            assert forecast_model(server, "IBM") == "ibm"  # committed models keep their tickers
            # Any request but a health check or a static file polls first: the listing too.
            assert name in server.get("/api/v1/models")


def test_committed_models_serve_with_no_database(make_app):
    # Nothing listens there: every poll fails, no request does.
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url, MODEL_POLL_S=0.01).test_client()
    for ticker, model in (("IBM", "ibm"), ("MSFT", "general"), ("IBM", "ibm")):
        answer = client.post("/api/v1/forecast", json={"ticker": ticker, "horizon": 2})
        assert answer.status_code == 200 and answer.get_json()["model"] == model
        time.sleep(0.02)
    assert "Forecast" in client.get("/prediction/IBM").get_data(as_text=True)


def test_an_unusable_database_url_leaves_no_poll(make_app):
    app = make_app(DATABASE_URL="postgresql+nosuchdriver://nobody@127.0.0.1/none")
    assert app.extensions["trained"] is None
    answer = app.test_client().post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2})
    assert answer.status_code == 200 and answer.get_json()["model"] == "ibm"


def test_a_process_started_after_the_save_serves_it_from_its_first_request(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store.upgrade(url)
    save_version(url, tmp_path / "made" / "msft-lstm-3d4e5f", "msft-lstm-3d4e5f")
    app = make_app(DATABASE_URL=url, MODEL_POLL_S=3600)
    assert "msft-lstm-3d4e5f" in app.extensions["registry"].trained
    answer = app.test_client().post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": 2})
    assert answer.get_json()["model"] == "msft-lstm-3d4e5f"
