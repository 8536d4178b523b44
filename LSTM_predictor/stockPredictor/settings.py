"""The settings a deployment makes through the environment (12-factor), read once, checked once.

``Settings.read(environ, overrides)`` turns the environment, and a test's overrides on top of it,
into one frozen object. ``current()`` is the process's own, read at its first use (never at
import), which the package's defaults use; the web app reads its own and passes it on. Nothing
else reads the environment, and nothing writes it. ``ENVIRONMENT`` names every variable read;
README's settings table lists exactly these.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import SettingError

# Where prices come from: Yahoo, then the bundled sample; Yahoo only; the sample only.
SOURCES = ("auto", "yahoo", "sample")
# The committed models live in the web app's folder; an editable install finds them here.
BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "Flask_webapp" / "models"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _whole(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise ValueError
        return value
    parse.rule = f"a whole number from {low} on"
    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError
    return value


_seconds.rule = "a number of seconds, 0 or more"


def _flag(text: str) -> bool:
    text = text.strip().lower()
    if text not in TRUE + FALSE:
        raise ValueError
    return text in TRUE


_flag.rule = "1 or 0"


def _source(text: str) -> str:
    text = text.strip().lower()
    if text not in SOURCES:
        raise ValueError
    return text


_source.rule = f"one of {', '.join(SOURCES)}"


def _preload(text: str) -> bool | None:
    text = text.strip().lower()
    return None if text == "auto" else _flag(text)


_preload.rule = "auto, 1 or 0"


def _text(text: str) -> str:
    return text.strip()


_text.rule = "text"


def _path(text: str) -> Path:
    return Path(text).expanduser()


_path.rule = "a folder"


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default; see ENVIRONMENT for the variable that sets each."""

    port: int = 5000
    secret_key: str = ""  # empty: a random key per process (nothing outlives a process)
    models_dir: Path = BUNDLED_MODELS
    cache_dir: Path = Path("~/.cache/stock-predictor").expanduser()
    instance_path: Path | None = None  # the default SQLite file's folder; None: ./instance
    price_source: str = "auto"
    price_ttl: float = 900.0  # seconds before any worker asks Yahoo for a ticker again
    store_read_ttl: float = 60.0  # seconds a worker reuses what it read from the price store
    table_cache_mb: int = 64  # forecast-table blocks kept per process
    preload_tables: bool | None = None  # None: build the sample's tables when source is sample
    blas_threads: int = 1  # OpenBLAS threads per process; 0 leaves OpenBLAS alone
    database_url: str = ""  # empty: SQLite in the instance folder
    database_migrate: bool = True  # run the migrations when the app starts
    debug: bool = False  # Flask's debugger and reloader, for `python Flask_webapp/app.py`
    traceback: bool = False  # the command line shows a traceback for an unexpected error

    @property
    def preloads(self) -> bool:
        """Whether the app builds the bundled sample's forecast tables at start-up."""
        return self.price_source == "sample" if self.preload_tables is None else \
            self.preload_tables

    @property
    def table_cache_bytes(self) -> int:
        """The forecast-table cache's bound in bytes."""
        return self.table_cache_mb * 1024 * 1024

    @property
    def key(self) -> str:
        """SECRET_KEY, or a random key for this process when none is set."""
        return self.secret_key or _process_key()

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ,
             overrides: Mapping[str, object] | None = None) -> "Settings":
        """The settings ``environ`` makes, then ``overrides`` (by variable name) on top.

        A variable that is set but empty takes the default; a value that cannot be used is a
        SettingError naming it and what is expected.
        """
        values = {}
        given = {name: environ[name] for name in ENVIRONMENT if environ.get(name, "").strip()}
        # An override of None leaves the variable to the environment.
        given.update({k: v for k, v in (overrides or {}).items()
                      if k in ENVIRONMENT and v is not None})
        for name, value in given.items():
            field, parse = ENVIRONMENT[name]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str):  # a test's override, already a value
                value = str(value) if not isinstance(value, bool) else str(int(value))
            try:
                values[field] = parse(value)
            except (ValueError, OverflowError):
                raise SettingError(f"{name}={value[:80]!r} is not valid: expected "
                                   f"{parse.rule}") from None
        return cls(**values)


# Variable -> (field, parser); the parser's ``rule`` words what is expected.
ENVIRONMENT: dict[str, tuple[str, Callable]] = {
    "PORT": ("port", _whole(1)),
    "SECRET_KEY": ("secret_key", _text),
    "MODELS_DIR": ("models_dir", _path),
    "CACHE_DIR": ("cache_dir", _path),
    "INSTANCE_PATH": ("instance_path", _path),
    "PRICE_SOURCE": ("price_source", _source),
    "PRICE_TTL": ("price_ttl", _seconds),
    "STORE_READ_TTL": ("store_read_ttl", _seconds),
    "TABLE_CACHE_MB": ("table_cache_mb", _whole(1)),
    "PRELOAD_TABLES": ("preload_tables", _preload),
    "BLAS_THREADS": ("blas_threads", _whole(0)),
    "DATABASE_URL": ("database_url", _text),
    "DATABASE_MIGRATE": ("database_migrate", _flag),
    "FLASK_DEBUG": ("debug", _flag),
    "STOCK_PREDICTOR_DEBUG": ("traceback", _flag),
}


@functools.cache
def _process_key() -> str:
    return secrets.token_hex(32)


@functools.cache
def current() -> Settings:
    """This process's settings, read from its environment at the first call."""
    return Settings.read()


def reset() -> None:
    """Forget the settings read, so that the next ``current()`` reads the environment again:
    each run of the command line starts with it, and so does each test."""
    current.cache_clear()
