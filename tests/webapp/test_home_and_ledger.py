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
    # Why it is empty offline, and how to fill it.
    assert "only live forecasts are" in empty and "PRICE_SOURCE=auto" in empty
    assert "offline" in empty and "appears here" in empty
    assert 'id="ledger-list"' not in html and 'id="live-record"' not in html


def test_fixed_data_is_never_recorded(ledger_app):
    # Offline, every forecast is a replay of fixed data: recomputed on its page, never listed.
    days = from_sample("IBM").index
    _serve(ledger_app, {"ticker": "IBM", "horizon": 4},
           {"ticker": "IBM", "horizon": 5, "as_of": str(days[-4].date())})
    html = ledger_app.test_client().get("/forecasts").get_data(as_text=True)
    assert 'id="ledger-empty"' in html and 'id="ledger-list"' not in html


def test_old_kind_links_still_open_and_a_replay_filter_is_explained(ledger_app):
    client = ledger_app.test_client()
    assert client.get("/forecasts?kind=live").status_code == 200
    answer = client.get("/forecasts?kind=replay")
    assert answer.status_code == 422 and "replays are not recorded" in answer.get_data(
        as_text=True)


def _live(make_app, fake_yahoo, tmp_path):
    from tests.fakes import history_frame

    sample = from_sample("IBM")
    fake_yahoo(history_frame(sample.index[-300:], close=list(sample["close"].to_numpy()[-300:])))
    return make_app(PRICE_SOURCE="yahoo", DATABASE_URL=f"sqlite:///{tmp_path / 'live.db'}")


def test_a_forecast_with_known_closes_shows_its_errors_beside_no_changes(
        make_app, fake_yahoo, tmp_path):
    from sqlalchemy.orm import Session
    from stockPredictor.store import ledger

    app = _live(make_app, fake_yahoo, tmp_path)
    client = app.test_client()
    answer = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 30}).get_json()
    app.extensions["ledger"].flush()
    known = 5  # the first five days' closes arrive: 1% above, then below, the forecast
    forecast = np.array([row["close"] for row in answer["forecast"]])[:known]
    actual = forecast * (1 + np.array([0.01, -0.02, 0.015, -0.005, 0.03]))
    days = pd.DatetimeIndex([row["date"] for row in answer["forecast"]][:known])
    with Session(app.extensions["database"].engine) as session, session.begin():
        assert ledger.score(session, "IBM", "yahoo", closes=pd.Series(actual, index=days)) == 5
    last = from_sample("IBM")["close"].iloc[-1]
    ours, naive = np.abs(forecast - actual), np.abs(last - actual)
    row = _rows(client.get("/forecasts").get_data(as_text=True))[
        f"IBM, 30 days from {answer['as_of']}"]
    figures = re.search(r"(\d+) of (\d+) the rest scored as closes arrive ([\d.]+) "
                        r"\(([\d.]+)%\) ([\d.]+) \(([\d.]+)%\) (\d+) of (\d+)$", row)
    assert figures, row
    scored, days_, mae, mae_pct, naive_mae, naive_pct, inside, banded = figures.groups()
    assert (int(scored), int(days_), int(banded)) == (known, 30, known)
    assert len(mae.split(".")[1]) == 2 == len(naive_mae.split(".")[1])  # a price near 190
    assert float(mae) == pytest.approx(ours.mean(), abs=0.006)
    assert float(naive_mae) == pytest.approx(naive.mean(), abs=0.006)
    assert float(mae_pct) == pytest.approx(100 * (ours / actual).mean(), abs=0.06)
    assert float(naive_pct) == pytest.approx(100 * (naive / actual).mean(), abs=0.06)
    assert len(mae_pct.split(".")[1]) == 1
    lows = np.array([row["low"] for row in answer["bands"]["0.8"]])[:known]
    highs = np.array([row["high"] for row in answer["bands"]["0.8"]])[:known]
    assert int(inside) == int(np.sum((lows <= actual) & (actual <= highs)))


def test_a_live_forecast_waits_for_its_closes(make_app, fake_yahoo, tmp_path):
    app = _live(make_app, fake_yahoo, tmp_path)
    _serve(app, {"ticker": "IBM", "horizon": 2})
    html = app.test_client().get("/forecasts").get_data(as_text=True)
    row = _rows(html)[f"IBM, 30 days from {from_sample('IBM').index[-1].date()}"]
    assert _kind(row) == "Live"
    assert "Not scored yet: scored as the closes arrive." in row and "fixed data" not in row


def test_the_lead_says_what_live_and_replay_mean_in_plain_words(ledger_app):
    lead = _text(ledger_app.test_client().get("/forecasts").get_data(as_text=True)
                 .split('class="lead">')[1].split("</p>")[0])
    assert "proves nothing" not in lead
    assert "live forecast is made from the latest" in lead
    assert "known when it was made" in lead and "Replays are not recorded" in lead
