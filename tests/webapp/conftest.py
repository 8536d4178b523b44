"""Fixtures in the flaskr style: an app on the bundled sample, and its client."""

from __future__ import annotations

import pytest

from Flask_webapp.app import create_app


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app with test settings on top of the offline defaults."""
    # create_app points yfinance's cache at CACHE_DIR through the environment; undo it after.
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))

    def build(**overrides):
        # Tables are built on first use here; test_app checks the start-up preload on its own.
        config = {"TESTING": True, "PRICE_SOURCE": "sample", "CACHE_DIR": str(tmp_path / "cache"),
                  "PRELOAD_TABLES": False}
        return create_app({**config, **overrides})

    return build


@pytest.fixture
def app(make_app):
    """The app on the bundled sample with the committed models."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()
