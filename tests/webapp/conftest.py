"""Fixtures in the flaskr style: an app on the bundled sample, and its client."""

from __future__ import annotations

import re
import shutil

import pytest
from flask.testing import FlaskClient

from Flask_webapp.app import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class FormClient(FlaskClient):
    """A test client that sends the form's CSRF token with each page POST, as a browser does.

    The token is read from the form at /predict once per client (its session cookie keeps the
    other half), so the tests about forms run with the check on. tests/webapp/test_cross_site.py
    uses a plain FlaskClient to send what another site would.
    """

    token: str | None = None

    def open(self, *args, **kwargs):
        """Open as FlaskClient does, adding ``csrf_token`` to a page POST's dict of fields."""
        path, data = (args[0] if args else kwargs.get("path", "/")), kwargs.get("data")
        if (str(kwargs.get("method", "GET")).upper() == "POST" and isinstance(path, str)
                and not path.startswith("/api/") and isinstance(data, dict)
                and "csrf_token" not in data):
            if self.token is None:
                self.token = TOKEN.search(super().open("/predict").get_data(as_text=True))[1]
            kwargs["data"] = {**data, "csrf_token": self.token}
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app with test settings on top of the offline defaults."""
    # create_app points yfinance's cache at CACHE_DIR through the environment; undo it after.
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))

    built = []

    def build(**overrides):
        # Tables are built on first use here; test_app checks the start-up preload on its own.
        config = {"TESTING": True, "PRICE_SOURCE": "sample", "CACHE_DIR": str(tmp_path / "cache"),
                  "PRELOAD_TABLES": False, "INSTANCE_PATH": str(tmp_path / "instance"),
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'test.db'}"}
        built.append(create_app({**config, **overrides}))
        built[-1].test_client_class = FormClient
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
