"""Fixtures in the flaskr style: an app on the bundled sample, and its client."""

from __future__ import annotations

import shutil

import pytest

from Flask_webapp.app import create_app


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app with test settings on top of the offline defaults."""
    # create_app points yfinance's cache at CACHE_DIR through the environment; undo it after.
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))

    built = []

    def build(**overrides):
        # Tables are built on first use here; test_app checks the start-up preload on its own.
        config = {"TESTING": True, "PRICE_SOURCE": "sample", "CACHE_DIR": str(tmp_path / "cache"),
                  "PRELOAD_TABLES": False,
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'test.db'}"}
        built.append(create_app({**config, **overrides}))
        return built[-1]

    yield build
    # As a worker at exit: the ledger written while the test's database is still there.
    for app in built:
        if app.extensions.get("ledger") is not None:
            app.extensions["ledger"].close()
        if app.extensions["database"].engine is not None:
            app.extensions["database"].engine.dispose()


@pytest.fixture
def app(make_app):
    """The app on the bundled sample with the committed models."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


# Step 1 serves the network, step 2 no change, step 3 half the network's log move, the rest the
# network: a policy unlike any fitted one, so the app is seen to pass it through.
POLICY_WEIGHTS = [1.0, 0.0, 0.5] + [1.0] * 27


@pytest.fixture
def policy_app(make_app, tmp_path):
    """The app over a copy of the committed models whose ibm model carries POLICY_WEIGHTS."""
    from stockPredictor.model import artifacts
    from stockPredictor.settings import BUNDLED_MODELS

    models = tmp_path / "models"
    for name in ("general", "ibm"):
        shutil.copytree(BUNDLED_MODELS / name, models / name)
    artifacts.update_metadata(models / "ibm", policy={
        "method": "shrink-toward-naive", "fitted_on": "validation", "start": "2009-01-02",
        "end": "2010-12-31", "tickers": ["IBM"], "weights": POLICY_WEIGHTS, "evidence": []})
    return make_app(MODELS_DIR=str(models))
