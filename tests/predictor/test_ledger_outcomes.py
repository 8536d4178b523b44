"""A ledger forecast's outcome in sum (the ledger page's columns), and unknown tickers offline."""

from __future__ import annotations

import pytest
from stockPredictor.data import sources
from stockPredictor.data.sources import PriceCache
from stockPredictor.errors import UnknownTickerError
from stockPredictor.store import outcomes


def _item(source: str, rows: list[tuple]) -> dict:
    """A forecast as ledger.listing gives it: rows of (close, low, high, actual, last close)."""
    forecast = []
    for close, low, high, actual, last in rows:
        known = actual is not None
        forecast.append({"date": "2013-03-04", "close": close, "low": low, "high": high,
                         "actual": actual, "error": close - actual if known else None,
                         "naive_error": last - actual if known else None,
                         "inside": (low <= actual <= high) if known and low is not None
                         else None})
    return {"source": source, "forecast": forecast}


def test_the_known_days_are_summed_up_against_no_change():
    item = _item("yahoo", [(101.0, 99.0, 103.0, 100.0, 100.0),   # 1 off; no change 0 off
                           (104.0, 100.0, 106.0, 110.0, 100.0),  # 6 off, outside; 10 off
                           (105.0, 100.0, 110.0, None, 100.0)])  # unknown yet
    found = outcomes.outcome(item)
    assert (found["days"], found["scored"], found["pending"]) == (3, 2, 1)
    assert found["waits"] is True
    assert found["mae"] == pytest.approx(3.5) and found["naive_mae"] == pytest.approx(5.0)
    assert found["mae_pct"] == pytest.approx(50 * (1 / 100 + 6 / 110))
    assert found["naive_pct"] == pytest.approx(50 * (0 + 10 / 110))
    assert (found["inside"], found["banded"]) == (1, 2)
    assert found["price"] == 101.0


@pytest.mark.parametrize("source", ["sample", "csv", "synthetic"])
def test_fixed_data_never_waits(source):
    found = outcomes.outcome(_item(source, [(10.0, 9.0, 11.0, None, 10.0)]))
    assert found["waits"] is False and found["scored"] == 0
    assert found["mae"] is None and found["naive_pct"] is None


def test_a_forecast_without_a_band_counts_no_band_days():
    found = outcomes.outcome(_item("sample", [(10.0, None, None, 10.5, 10.0)]))
    assert (found["inside"], found["banded"], found["scored"]) == (0, 0, 1)


def test_an_unknown_ticker_on_the_sample_server_is_told_how_to_get_live_prices():
    with pytest.raises(UnknownTickerError) as info:
        PriceCache("sample").load("NVDA")
    message = str(info.value)
    assert message.startswith("Ticker 'NVDA' is not in the bundled sample, which has AAPL")
    assert "Live prices are off: this server serves only the bundled sample." in message
    assert "set PRICE_SOURCE=auto or yahoo and restart the server." in message


def test_an_unknown_ticker_on_the_sample_command_is_told_how_to_get_live_prices():
    with pytest.raises(UnknownTickerError) as info:
        sources.load("NVDA", "sample")
    message = str(info.value)
    assert message.startswith("Ticker 'NVDA' is not in the bundled sample")
    assert "set PRICE_SOURCE=auto or yahoo, or pass --source auto." in message
    assert "server" not in message
