"""Shared fixtures: synthetic prices and a tiny trained artifact (window 5, 1 epoch)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never reach Yahoo: anything that asks for "auto" prices gets the bundled sample.
os.environ["PRICE_SOURCE"] = "sample"

# curl_cffi before TensorFlow, which the tiny artifact's training imports: loaded after it,
# libcurl fails every transfer at once (a known clash; stockPredictor.data.yahoo says so), and the
# tests that send yfinance's real requests to a local listener would see "could not be reached".
import curl_cffi  # noqa: E402,F401
from stockPredictor import settings  # noqa: E402
from stockPredictor.data.synthetic import synthetic  # noqa: E402
from stockPredictor.data.yahoo import import_yfinance  # noqa: E402
from stockPredictor.model.config import ModelConfig, TrainConfig  # noqa: E402

TINY_MODEL = ModelConfig(window=5, units=4, layers=1, dropout=0.0, output_steps=5)
TINY_TRAINING = TrainConfig(epochs=1, batch_size=32, patience=1, seed=7)


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test reads the environment anew: the settings a test sets take effect in it only."""
    settings.reset()
    yield
    settings.reset()


@pytest.fixture(scope="session")
def walk():
    """A seeded random walk of 400 business days."""
    return synthetic("random_walk", n=400, seed=1, ticker="WALK")


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, walk):
    """An artifact trained by train.fit with the tiniest settings, shared by the session."""
    from stockPredictor.training import train

    out = tmp_path_factory.mktemp("models") / "walk"
    return train.fit({"WALK": walk}, TINY_MODEL, TINY_TRAINING, out, report=lambda line: None)


@pytest.fixture
def ibm_csv(tmp_path):
    """400 days of the bundled IBM prices as a Yahoo export file, MYCO.csv, as a person uploads."""
    from stockPredictor.data.sample import from_sample

    frame = from_sample("IBM").iloc[-400:]
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d:%Y-%m-%d},{r.open:.4f},{r.high:.4f},{r.low:.4f},{r.close:.4f},{r.close:.4f},"
              f"{r.volume:.0f}" for d, r in zip(frame.index, frame.itertuples())]
    path = tmp_path / "MYCO.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- a fake Yahoo: the real yfinance module with its Ticker replaced -------------------------

@pytest.fixture(scope="module")
def yf(tmp_path_factory):
    """The real yfinance module, set up by import_yfinance with a throwaway cache folder."""
    import_yfinance.cache_clear()
    yield import_yfinance(tmp_path_factory.mktemp("cache"))
    import_yfinance.cache_clear()


@pytest.fixture
def fake_yahoo(yf, monkeypatch):
    """Install a fake yfinance.Ticker; returns the list of history() calls it received."""
    calls = []

    def install(result):
        class FakeTicker:
            def __init__(self, ticker, session=None):
                self.ticker = ticker
                self._price_history = None  # read by yf.download after each history() call

            def get_history_metadata(self):
                # The chart API's meta block, which history() has already fetched.
                return {"currency": "USD", "symbol": self.ticker, "longName": f"{self.ticker} Inc."}

            def history(self, period="1mo", interval="1d", start=None, end=None,
                        actions=True, auto_adjust=True, **kwargs):
                calls.append(dict(ticker=self.ticker, period=period, interval=interval,
                                  start=start, end=end, auto_adjust=auto_adjust))
                if isinstance(result, BaseException):
                    raise result
                frame = result.copy()
                return frame if actions else frame.drop(columns=["Dividends", "Stock Splits"])

        monkeypatch.setattr(yf, "Ticker", FakeTicker)
        monkeypatch.setattr(yf.multi, "Ticker", FakeTicker)  # what yf.download uses
        return calls

    return install


# --- real servers on loopback ------------------------------------------------------------------

@pytest.fixture
def free_port():
    """A function returning a free port on 127.0.0.1."""
    from tests.servers import free_port
    return free_port


@pytest.fixture
def serve():
    """Context manager: start a server command, wait for /healthz, stop it afterwards."""
    from tests.servers import serve
    return serve


@pytest.fixture(scope="session")
def postgres_server_url():
    """One real PostgreSQL server (Debian's package) for the whole run, stopped at the end."""
    from tests.postgres import postgres_server, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(f"PostgreSQL tests not run: {reason}")
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url):
    """A new, empty database on the run's PostgreSQL server."""
    from tests.postgres import new_database

    return new_database(postgres_server_url)


@pytest.fixture(scope="session")
def redis_url():
    """One real Redis server (Debian's redis-server) for the whole run, stopped at the end.

    Tests that share it keep apart by their own keys (each app counts its own clients)."""
    from tests.redis_server import redis_server, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(f"Redis tests not run: {reason}")
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """A new, empty database of each kind: a SQLite file, or a database on the real server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
