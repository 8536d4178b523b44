"""Settings: read from the environment once, checked once, and the same list in README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stockPredictor import settings
from stockPredictor.errors import SettingError
from stockPredictor.settings import ENVIRONMENT, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readmes_settings_table_lists_exactly_the_settings_read():
    section = README.read_text().split("### Settings", 1)[1].split("\n## ", 1)[0]
    table = section.split("| variable |", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^\| `([A-Z_]+)` \|", table, re.M)
    assert listed == list(ENVIRONMENT)


def test_defaults_then_the_environment_then_overrides():
    read = Settings.read({"PRICE_TTL": "30", "PRICE_SOURCE": " Yahoo ", "DATABASE_URL": ""},
                         {"PRICE_TTL": 5, "STORE_READ_TTL": None})
    assert read.price_ttl == 5.0  # the override wins
    assert read.price_source == "yahoo"  # normalised
    assert read.store_read_ttl == Settings().store_read_ttl  # None: left to the environment
    assert read.database_url == ""  # set but empty: the default


@pytest.mark.parametrize("name, value, expected", [
    ("PRICE_TTL", "-1", "a number of seconds, 0 or more"),
    ("STORE_READ_TTL", "soon", "a number of seconds, 0 or more"),
    ("DATABASE_MIGRATE", "maybe", "1 or 0"),
    ("TABLE_CACHE_MB", "0", "a whole number from 1 on"),
    ("PORT", "eighty", "a whole number from 1 on"),
])
def test_a_bad_value_is_one_sentence_naming_it(name, value, expected):
    with pytest.raises(SettingError) as raised:
        Settings.read({name: value})
    assert str(raised.value) == f"{name}={value!r} is not valid: expected {expected}"


def test_the_processes_settings_are_read_once_until_reset(monkeypatch):
    monkeypatch.setenv("PRICE_TTL", "42")
    assert settings.current().price_ttl == 42.0
    monkeypatch.setenv("PRICE_TTL", "43")
    assert settings.current().price_ttl == 42.0  # read once
    settings.reset()
    assert settings.current().price_ttl == 43.0
