"""The home page, the search's refusals, unknown tickers offline, and the ledger's columns."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from stockPredictor.data.sample import SAMPLE_TICKERS, from_sample

SAMPLE_LINKS = [f'href="/?ticker={t}"' for t in ("AAPL", "FB", "GOOG", "IBM", "MSFT")]


def _text(html: str) -> str:
    """The page's words, tags gone and spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _rows(html: str) -> dict[str, str]:
    """The ledger list's rows as text, by the forecast's name ("IBM, 3 days from ...")."""
    table = html.split('id="ledger-list"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        text = _text(row)
        rows[re.match(r"\S+, \d+ days? from \d{4}-\d{2}-\d{2}", text).group(0)] = text
    return rows


def _kind(row: str) -> str:
    """The kind a ledger row names under the forecast's name."""
    return re.search(r"from \S+ (Live|Replay),", row).group(1)


def _serve(app, *bodies: dict) -> None:
    client = app.test_client()
    for body in bodies:
        assert client.post("/api/v1/forecast", json=body).status_code == 200, body
    app.extensions["ledger"].flush()


@pytest.fixture
def ledger_app(make_app, tmp_path):
    return make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.db'}")


# --- the home page ------------------------------------------------------------------------------

def test_the_home_page_says_what_the_app_does_and_offers_examples(client):
    html = client.get("/").get_data(as_text=True)
    about = _text(html.split('id="about"')[1].split("</p>")[0])
    assert "next trading days" in about and "LSTM" in about and "no change" in about
    assert all(link in html for link in SAMPLE_LINKS)
    assert len(SAMPLE_TICKERS) == len(SAMPLE_LINKS)
    # The script that words a refused ticker, and the rule it words it with.
    # (under a content-hashed name, where static files are served so)
    assert re.search(r'<script src="/static/js/search(\.[0-9a-f]+)?\.js" defer></script>', html)
    assert 'data-rule="1 to 15 letters' in unescape(html)
    assert 'title="A ticker: 1 to 15 letters' in unescape(html)


def test_a_refused_search_keeps_the_value_beside_the_field_with_the_focus(client):
    answer = client.get("/", query_string={"ticker": "no way!"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    field = re.search(r'<input id="ticker"[^>]*>', html).group(0)
    assert 'value="no way!"' in field
    assert 'aria-invalid="true"' in field and " autofocus" in field
    assert 'aria-describedby="ticker-error ticker-help"' in field
    error = _text(re.search(r'<p id="ticker-error"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert error.startswith("'no way!' is not a ticker: use 1 to 15 letters")
    assert not error.startswith("ticker")  # beside the field, its name is not repeated


def test_a_search_that_is_fine_marks_nothing_invalid(client):
    html = client.get("/").get_data(as_text=True)
    assert "aria-invalid" not in html and 'id="ticker-error"' not in html
    assert " autofocus" not in html


def test_the_day_change_has_the_prices_decimals_and_a_one_decimal_percent(client):
    closes = from_sample("IBM")["close"]
    change = closes.iloc[-1] - closes.iloc[-2]
    html = client.get("/?ticker=IBM").get_data(as_text=True)
    cell = _text(html.split("<dt>Day change</dt>")[1].split("</dd>")[0])
    # IBM closes near 200: cents, as its price is shown.
    assert cell == f"{change:+.2f} ({100 * change / closes.iloc[-2]:+.1f}%)"


# --- unknown tickers offline --------------------------------------------------------------------

def _sentence(html: str) -> str:
    """The sentence a page says about NVDA, wherever it stands (an alert, beside a field)."""
    return _text(re.search(r">\s*(Ticker &#39;NVDA&#39;[^<]*)<", html).group(1))


def test_an_unknown_ticker_offline_says_how_to_turn_live_prices_on(client):
    answer = client.get("/?ticker=NVDA")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    alert = _text(re.search(r'role="alert">(.*?)</p>', html, re.S).group(1))
    assert alert.startswith("Ticker 'NVDA' is not in the bundled sample")
    assert "Live prices are off" in alert and "only the bundled sample" in alert
    assert "PRICE_SOURCE=auto or yahoo and restart" in alert
    links = html.split('id="sample-tickers"')[1].split("</nav>")[0]
    assert all(link in links for link in SAMPLE_LINKS)


@pytest.mark.parametrize("ask", [
    lambda c: c.get("/prediction/NVDA?horizon=4"),
    lambda c: c.post("/predict", data={"ticker": "NVDA", "horizon": "4"}, follow_redirects=True),
], ids=["forecast-page", "form"])
def test_a_forecast_of_an_unknown_ticker_offline_says_so_too(client, ask):
    answer = ask(client)
    assert answer.status_code == 404
    sentence = _sentence(answer.get_data(as_text=True))
    assert "Live prices are off" in sentence and "PRICE_SOURCE=auto or yahoo" in sentence


def test_the_api_keeps_its_error_shape_for_an_unknown_ticker(client):
    answer = client.get("/api/v1/stocks/NVDA")
    body = answer.get_json()
    assert answer.status_code == 404 and set(body) == {"error", "message"}
    assert body["error"] == "unknown_ticker" and "PRICE_SOURCE=auto" in body["message"]


# --- the ledger ---------------------------------------------------------------------------------

def test_an_empty_ledger_says_in_one_sentence_what_it_records(ledger_app):
    html = ledger_app.test_client().get("/forecasts").get_data(as_text=True)
    empty = _text(re.search(r'<p id="ledger-empty"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert empty.count(". ") == 0 and empty.endswith(".")  # one sentence
    assert "each distinct forecast" in empty and "appears here" in empty
    assert 'id="ledger-list"' not in html and 'id="live-record"' not in html


def test_the_ledger_opens_on_what_it_holds(ledger_app):
    # Offline, every forecast is a replay: the page lists them without being asked to.
    _serve(ledger_app, {"ticker": "IBM", "horizon": 3, "as_of": "2012-06-01"})
    client = ledger_app.test_client()
    html = client.get("/forecasts").get_data(as_text=True)
    assert "No live forecast has been recorded yet" not in html
    rows = _rows(html)
    assert list(rows) == ["IBM, 3 days from 2012-06-01"]
    assert _kind(rows["IBM, 3 days from 2012-06-01"]) == "Replay"
    assert 'option value="" selected' in html
    # The kind filter still narrows it.
    assert "No live forecast has been recorded yet" in client.get(
        "/forecasts?kind=live").get_data(as_text=True)
    assert list(_rows(client.get("/forecasts?kind=replay").get_data(as_text=True))) == [
        "IBM, 3 days from 2012-06-01"]


def test_a_forecast_with_known_closes_shows_its_errors_beside_no_changes(ledger_app):
    as_of, horizon = "2012-06-01", 5
    client = ledger_app.test_client()
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": horizon,
                                                   "as_of": as_of}).get_json()
    ledger_app.extensions["ledger"].flush()
    closes = from_sample("IBM")["close"]
    actual = closes[closes.index > pd.Timestamp(as_of)].to_numpy()[:horizon]
    forecast = np.array([row["close"] for row in answer["forecast"]])
    last = closes[:as_of].iloc[-1]
    ours, naive = np.abs(forecast - actual), np.abs(last - actual)
    row = _rows(client.get("/forecasts").get_data(as_text=True))[
        f"IBM, {horizon} days from {as_of}"]
    figures = re.search(r"(\d+) of (\d+) ([\d.]+) \(([\d.]+)%\) ([\d.]+) \(([\d.]+)%\) "
                        r"(\d+) of (\d+)$", row)
    assert figures, row
    scored, days, mae, mae_pct, naive_mae, naive_pct, inside, banded = figures.groups()
    assert (int(scored), int(days), int(banded)) == (horizon, horizon, horizon)
    assert len(mae.split(".")[1]) == 2 == len(naive_mae.split(".")[1])  # a price near 190
    assert float(mae) == pytest.approx(ours.mean(), abs=0.006)
    assert float(naive_mae) == pytest.approx(naive.mean(), abs=0.006)
    assert float(mae_pct) == pytest.approx(100 * (ours / actual).mean(), abs=0.06)
    assert float(naive_pct) == pytest.approx(100 * (naive / actual).mean(), abs=0.06)
    assert len(mae_pct.split(".")[1]) == 1
    lows = np.array([row["low"] for row in answer["forecast"]])
    highs = np.array([row["high"] for row in answer["forecast"]])
    assert int(inside) == int(np.sum((lows <= actual) & (actual <= highs)))


def test_fixed_data_never_waits_for_an_outcome(ledger_app):
    days = from_sample("IBM").index
    # The sample's last day: nothing after it, ever. Three days before: 3 of 5 known.
    _serve(ledger_app, {"ticker": "IBM", "horizon": 4},
           {"ticker": "IBM", "horizon": 5, "as_of": str(days[-4].date())})
    rows = _rows(ledger_app.test_client().get("/forecasts").get_data(as_text=True))
    latest = rows[f"IBM, 4 days from {days[-1].date()}"]
    assert "No outcome will come: fixed data" in latest and "0 of" not in latest
    partly = rows[f"IBM, 5 days from {days[-4].date()}"]
    assert partly.split(", by ")[1].split(" ", 3)[3].startswith(
        "3 of 5 no outcome will come for the other 2: fixed data")
    assert "as closes arrive" not in latest + partly


def test_a_live_forecast_waits_for_its_closes(make_app, fake_yahoo, tmp_path):
    from tests.fakes import history_frame

    sample = from_sample("IBM")
    fake_yahoo(history_frame(sample.index[-300:], close=list(sample["close"].to_numpy()[-300:])))
    app = make_app(PRICE_SOURCE="yahoo", DATABASE_URL=f"sqlite:///{tmp_path / 'live.db'}")
    _serve(app, {"ticker": "IBM", "horizon": 2})
    html = app.test_client().get("/forecasts").get_data(as_text=True)
    row = _rows(html)[f"IBM, 2 days from {sample.index[-1].date()}"]
    assert _kind(row) == "Live"
    assert "Not scored yet: scored as the closes arrive." in row and "fixed data" not in row


def test_the_lead_says_what_live_and_replay_mean_in_plain_words(ledger_app):
    lead = _text(ledger_app.test_client().get("/forecasts").get_data(as_text=True)
                 .split('class="lead">')[1].split("</p>")[0])
    assert "proves nothing" not in lead
    assert "live forecast was made from the latest" in lead
    assert "already known when it was made" in lead
