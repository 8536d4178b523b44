"""The store's fixtures: a migrated database of each kind (SQLite, a real PostgreSQL) and an
engine on it."""

from __future__ import annotations

import pytest

from stockPredictor.store import engine_for, upgrade


@pytest.fixture
def url(empty_url):
    """A new database of each kind, migrated to the newest revision."""
    upgrade(empty_url)
    return empty_url


@pytest.fixture
def engine(url):
    """An engine on the migrated database, disposed of at the end."""
    engine = engine_for(url)
    yield engine
    engine.dispose()
