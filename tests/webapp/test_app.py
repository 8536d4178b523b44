"""The application factory: configuration order, start-up work, and no TensorFlow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from Flask_webapp.app import FLASK_DEFAULTS, create_app
from stockPredictor.errors import SettingError
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_then_environment_then_test_override(monkeypatch, tmp_path, make_app):
    monkeypatch.setenv("PORT", "6123")
    monkeypatch.setenv("PRICE_SOURCE", "Yahoo")
    monkeypatch.setenv("MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = make_app(MODELS_DIR="/elsewhere", PRICE_SOURCE=None)
    settings = app.extensions["settings"]
    assert settings.port == 6123                           # from the environment, as an int
    assert settings.price_source == "yahoo"                # normalized
    assert str(settings.models_dir) == "/elsewhere"        # the test override wins
    assert app.config["MAX_CONTENT_LENGTH"] == FLASK_DEFAULTS["MAX_CONTENT_LENGTH"]
    assert len(app.config["SECRET_KEY"]) >= 32             # generated when none is configured
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert make_app().config["SECRET_KEY"] == "from-env"


@pytest.mark.parametrize("key, value, named", [("PORT", "eighty", "PORT='eighty'"),
                                               ("PRICE_SOURCE", "bloomberg", "bloomberg")])
def test_bad_settings_stop_start_up_with_the_value_named(key, value, named):
    with pytest.raises(SettingError, match=named):
        create_app({key: value})


def test_the_app_uses_price_ttl_and_store_read_ttl_and_writes_no_variable(make_app,
                                                                          monkeypatch):
    monkeypatch.setenv("PRICE_TTL", "120")
    monkeypatch.setenv("STORE_READ_TTL", "7")
    before = dict(os.environ)
    app = make_app(PRICE_SOURCE="auto")
    assert dict(os.environ) == before  # CACHE_DIR and the rest stay as they were
    cache = app.extensions["price_cache"]
    # A worker rereads the shared store every STORE_READ_TTL; Yahoo is asked every PRICE_TTL.
    assert cache.ttl == 7.0 and cache.store.recheck.total_seconds() == 120.0


def test_debug_is_off_unless_asked(make_app, monkeypatch):
    assert make_app().debug is False
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert make_app().debug is True


def test_models_load_once_at_start_up_never_per_request(make_app, monkeypatch):
    loads = []
    real = artifacts.load
    monkeypatch.setattr(artifacts, "load", lambda path: loads.append(path) or real(path))
    client = make_app().test_client()
    at_start = len(loads)
    assert at_start == 2  # general and ibm, the committed models
    for _ in range(3):
        assert client.post("/api/v1/forecast", json={"ticker": "IBM"}).status_code == 200
        assert client.get("/prediction/MSFT").status_code == 200
    assert len(loads) == at_start


def test_an_empty_models_folder_starts_and_says_so(make_app, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    client = make_app(MODELS_DIR=str(models)).test_client()
    for url in ("/api/v1/healthz", "/healthz"):
        health = client.get(url)
        assert health.status_code == 503  # a load balancer routes around it
        assert health.json["status"] == "unavailable" and health.json["models"] == []
        assert "no model is loaded" in health.json["reason"]
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM"})
    assert answer.status_code == 404
    assert "no model for 'IBM'" in answer.json["message"]
    assert str(tmp_path) not in answer.get_data(as_text=True)


def test_a_broken_model_is_reported_without_the_servers_paths(make_app, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(BUNDLED_MODELS / "ibm", models / "broken")
    (models / "broken" / "scaler.pkl").write_bytes(b"not the file that was checksummed")
    client = make_app(MODELS_DIR=str(models)).test_client()
    health = client.get("/api/v1/healthz")
    assert health.status_code == 503 and "scaler.pkl" in health.json["skipped"]["broken"]
    answers = [health, client.post("/api/v1/forecast", json={"ticker": "IBM"}),
               client.get("/prediction/IBM"), client.get("/api/v1/stocks/NOPE"),
               client.post("/api/v1/forecast", json={"ticker": "IBM", "model": "broken"})]
    for answer in answers:
        assert answer.status_code >= 400
        text = answer.get_data(as_text=True)
        assert str(tmp_path) not in text and str(ROOT) not in text, text


def test_serving_a_forecast_never_imports_tensorflow():
    # A fresh interpreter: this test process may have imported Keras for the training tests.
    code = textwrap.dedent("""
        import sys
        from Flask_webapp.wsgi import app
        answer = app.test_client().post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 4})
        assert answer.status_code == 200, answer.data
        assert len(answer.json["forecast"]) == 4
        page = app.test_client().get("/prediction/IBM")
        assert page.status_code == 200
        print(sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PRICE_SOURCE": "sample", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", [
    [sys.executable, "Flask_webapp/app.py"],
    [sys.executable, "-m", "flask", "--app", "Flask_webapp.app", "run", "--port", "{port}"],
])
def test_the_documented_ways_to_start_serve_a_page(command, free_port, serve):
    port = free_port()
    command = [part.format(port=port) for part in command]
    with serve(command, port, env={"PORT": str(port), "PRICE_SOURCE": "sample"}) as base:
        assert '"status":"ok"' in base.get("/healthz").replace(" ", "")
