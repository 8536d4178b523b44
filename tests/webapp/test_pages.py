"""HTML pages: rendered on the server, usable without scripts, friendly about mistakes."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from stockPredictor.data.sample import from_sample
from stockPredictor.settings import BUNDLED_MODELS


class Page(HTMLParser):
    """The parts of a page the tests look at: scripts, inputs, labels, forecast rows, links."""

    def __init__(self, html: str):
        super().__init__()
        self.scripts, self.inputs, self.labels, self.rows, self.links = [], [], set(), [], {}
        self.inline_handlers, self._row, self._cell, self._data = [], None, None, []
        self._table = None  # the id of the table being read: only the forecast's rows count
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.inline_handlers += [name for name in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.append(attrs)
        elif tag in ("input", "select") and attrs.get("type") not in ("hidden", "submit"):
            self.inputs.append(attrs)
        elif tag == "label" and "for" in attrs:
            self.labels.add(attrs["for"])
        elif tag == "table":
            self._table = attrs.get("id")
        elif tag == "tr" and self._table == "forecast-table":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and "download" in attrs:
            self.links[attrs["download"]] = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def check_page(answer, status=200) -> Page:
    """The page parsed, after the checks every page must pass."""
    assert answer.status_code == status, answer.data[:500]
    page = Page(answer.get_data(as_text=True))
    # No inline scripts or handlers: scripts have a src, or are JSON data islands.
    assert all("src" in s or s.get("type") == "application/json" for s in page.scripts)
    assert page.inline_handlers == []
    # Every input is labelled.
    assert all(i.get("id") in page.labels for i in page.inputs), page.inputs
    assert 'name="viewport"' in answer.get_data(as_text=True)
    return page


def test_index_has_a_labelled_search(client):
    page = check_page(client.get("/"))
    assert [i["name"] for i in page.inputs] == ["ticker"]


def test_searching_a_ticker_shows_its_card(client):
    html = client.get("/?ticker=ibm").get_data(as_text=True)
    check_page(client.get("/?ticker=ibm"))
    close = from_sample("IBM")["close"].iloc[-1]
    assert 'id="stock-info"' in html and "International Business Machines" in html
    assert f"{close:.2f}" in html
    assert "bundled sample" in html  # the stale-data notice
    assert 'data-history-url="/api/v1/stocks/IBM/history"' in html


@pytest.mark.parametrize("ticker, status, says", [("NOPE", 404, "NOPE"),
                                                  ("no way!", 422, "no way!")])
def test_a_bad_search_explains_itself(client, ticker, status, says):
    answer = client.get("/", query_string={"ticker": ticker})
    check_page(answer, status)
    html = answer.get_data(as_text=True)
    assert 'role="alert"' in html and says in html
    assert 'id="ticker-search"' in html  # the person can try again at once


def test_the_form_offers_every_model(client):
    page = check_page(client.get("/predict?ticker=MSFT"))
    html = client.get("/predict?ticker=MSFT").get_data(as_text=True)
    assert {i["name"] for i in page.inputs} == {"ticker", "horizon", "level", "as_of", "model",
                                                "file"}
    assert 'value="MSFT"' in html
    assert 'option value="general"' in html and 'option value="ibm"' in html


def _level_options(html: str) -> list[tuple[str, str, bool]]:
    select = re.search(r'<select id="f-level" name="level"[^>]*>(.*?)</select>', html, re.S)
    return [(value, label.strip(), bool(selected)) for value, selected, label in re.findall(
        r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))]


def test_the_form_offers_three_band_levels_80_by_default(client):
    html = client.get("/predict").get_data(as_text=True)
    assert _level_options(html) == [("0.5", "50%", False), ("0.8", "80%", True),
                                    ("0.95", "95%", False)]
    # The select sits next to the horizon.
    names = re.findall(r'<(?:input|select) id="[^"]+" name="([^"]+)"', html)
    assert names.index("level") == names.index("horizon") + 1


def test_the_form_sends_a_ticker_on_to_its_page(client):
    answer = client.post("/predict", data={"ticker": "msft", "horizon": "7", "as_of": "",
                                           "model": ""})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/prediction/MSFT?horizon=7"


def test_the_form_sends_a_band_level_on_to_its_page(client):
    answer = client.post("/predict", data={"ticker": "ibm", "horizon": "5", "level": "0.95"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/prediction/IBM?horizon=5&level=0.95"
    html = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "with the 95% band" in html
    assert "Inside the 95% band" in html  # the track record scores the band asked for


def test_a_band_level_not_offered_is_refused_on_the_form_and_the_page(client):
    answer = client.post("/predict", data={"ticker": "IBM", "horizon": "5", "level": "0.7"})
    check_page(answer, 422)
    html = unescape(answer.get_data(as_text=True))
    assert 'id="level-error"' in html and "0.7" in html and "0.95" in html
    assert ("0.8", "80%", True) in _level_options(html)  # a sane choice stays selected
    answer = client.get("/prediction/IBM?level=abc")
    check_page(answer, 422)
    html = unescape(answer.get_data(as_text=True))
    assert 'id="level-error"' in html and "'abc' is not a band level" in html


def test_the_form_shows_field_errors_in_place(client):
    answer = client.post("/predict", data={"ticker": "IBM", "horizon": "45"})
    check_page(answer, 422)
    html = answer.get_data(as_text=True)
    assert 'id="horizon-error"' in html and 'aria-invalid="true"' in html
    assert 'value="IBM"' in html  # what the person typed is kept


def test_the_form_without_ticker_or_file_asks_for_one(client):
    answer = client.post("/predict", data={"horizon": "4"})
    check_page(answer, 422)
    assert 'id="ticker-error"' in answer.get_data(as_text=True)


def test_the_forecast_page_has_a_dated_table_without_scripts(client):
    page = check_page(client.get("/prediction/IBM?horizon=4"))
    body = [row for row in page.rows if re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[0])]
    assert [row[0] for row in body] == ["2013-03-04", "2013-03-05", "2013-03-06", "2013-03-07"]
    html = client.get("/prediction/IBM?horizon=4").get_data(as_text=True)
    assert '<span class="date">2013-03-01</span>' in html  # a date never breaks across lines
    html = re.sub(r'<span class="date">([^<]*)</span>', r"\1", html)
    assert "not investment advice" in html and "bundled sample" in html
    assert "Trained on" in html and "ibm" in html
    split = json.loads((BUNDLED_MODELS / "ibm" / "model.json").read_text())["data"]["IBM"]
    assert re.search(rf"IBM, \d{{4}}-\d\d-\d\d to {split['val_end']} <span[^>]*>\(kept back for "
                     rf"testing: to {split['test_end']}\)", html)


def test_the_forecast_page_gives_the_track_record_in_words(client):
    html = client.get("/prediction/MSFT?horizon=20").get_data(as_text=True)
    section = unescape(html[html.index('id="track-record"'):])
    assert "Over the last 250 trading days, this model's forecasts 20 days ahead" in section
    assert "Direction right" in section and "Inside the 80% band" in section


def _track_record(html: str) -> str:
    return unescape(html[html.index('id="track-record"'):html.index('id="model-info"')])


def test_the_track_record_gives_the_p_value_at_the_horizon(client):
    api = client.post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": 20}).get_json()
    p = api["track_record"]["p_value_vs_naive"][19]
    assert p is not None
    section = _track_record(client.get("/prediction/MSFT?horizon=20").get_data(as_text=True))
    # In words on the card, with the number in the details beside the ratio.
    words = "unlikely to be chance" if p < 0.05 else "could easily be chance"
    card = section[section.index('id="record-ratio"'):section.index("</dd>")]
    assert f"({words})" in card, card
    shown = re.search(r"p-value</a>: <span class=\"p-value\">(0\.\d+)</span>", section)
    assert shown, section
    assert float(shown.group(1)) == pytest.approx(p, abs=0.0005)


def test_a_step_that_serves_no_change_says_so(policy_app):
    client = policy_app.test_client()
    served = _track_record(client.get("/prediction/IBM?horizon=2").get_data(as_text=True))
    # The verdict says so, in place of a claim about accuracy.
    assert "2 days ahead this model serves the no-change forecast" in served
    assert "At 2 days ahead the model's own forecast did not beat" in served
    assert "so the forecast is the last close" in served
    assert "accurate than" not in served
    for horizon in (1, 3):
        section = _track_record(client.get(f"/prediction/IBM?horizon={horizon}")
                                .get_data(as_text=True))
        assert "serves the no-change forecast" not in section


def test_the_chart_data_island_matches_the_table(client):
    html = client.get("/prediction/GOOG?horizon=6").get_data(as_text=True)
    island = re.search(r'<script type="application/json" id="prediction-data">(.*?)</script>',
                       html, re.S).group(1)
    data = json.loads(island)
    assert data["ticker"] == "GOOG" and len(data["forecast"]) == 6
    assert data["history"][-1]["date"] == "2013-03-01"
    assert data["history"][-1]["close"] == pytest.approx(
        from_sample("GOOG")["close"].iloc[-1], abs=1e-4)


def test_a_past_as_of_shows_the_actual_prices(client):
    page = check_page(client.get("/prediction/AAPL?horizon=3&as_of=2012-09-14&model=general"))
    closes = from_sample("AAPL")["close"]
    header = next(row for row in page.rows if row[0] == "Date")
    assert "Actual" in header
    first = next(row for row in page.rows if row[0] == "2012-09-17")
    assert first[header.index("Actual")] == f"{closes.loc['2012-09-17']:.2f}"


def test_downloads_hold_the_same_forecast(client):
    page = check_page(client.get("/prediction/IBM?horizon=4&as_of=2012-06-01"))
    json_href = next(href for name, href in page.links.items() if name.endswith(".json"))
    csv_href = next(href for name, href in page.links.items() if name.endswith(".csv"))
    # Addresses of their own, not a copy inside the page, that keep what was asked.
    assert json_href.startswith("/prediction/IBM/forecast.json?")
    assert "as_of=2012-06-01" in json_href
    json_answer = client.get(json_href)
    assert json_answer.status_code == 200 and json_answer.mimetype == "application/json"
    assert json_answer.headers["Content-Disposition"] == (
        'attachment; filename="IBM-forecast-2012-06-01.json"')
    from_json = json_answer.get_json()
    api = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 4,
                                                "as_of": "2012-06-01"}).get_json()
    assert from_json == api
    csv_answer = client.get(csv_href)
    assert csv_answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(csv_answer.get_data(as_text=True))))
    assert [r["date"] for r in rows] == [f["date"] for f in from_json["forecast"]]
    assert [float(r["forecast"]) for r in rows] == [f["close"] for f in from_json["forecast"]]
    assert [float(r["actual"]) for r in rows] == [a["close"] for a in from_json["actual"]]


@pytest.mark.parametrize("url", ["/prediction/IBM/forecast.xml",
                                 "/prediction/IBM/forecast.json?horizon=99",
                                 "/prediction/upload/999999/forecast.csv"])
def test_a_download_that_cannot_be_made_is_refused(client, url):
    answer = client.get(url)
    assert 400 <= answer.status_code < 500, url


def test_an_uploaded_csv_is_forecast_on_its_own_page(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "MYCO.csv"), "horizon": "4",
                                               "ticker": ""},
                             content_type="multipart/form-data")
    # POST/redirect/GET: the forecast is the upload's permanent page, so a reload asks nothing.
    assert answer.status_code == 303
    assert re.fullmatch(r"/prediction/upload/\d+\?horizon=4", answer.headers["Location"])
    answer = client.get(answer.headers["Location"])
    page = check_page(answer)
    assert len([r for r in page.rows if re.fullmatch(r"\d{4}-\d{2}-\d{2}", r[0])]) == 4
    assert "MYCO" in answer.get_data(as_text=True)  # named after the file
    assert "Uploaded file" in answer.get_data(as_text=True)


def test_an_oversized_upload_gets_a_friendly_413_page(make_app):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    answer = client.post("/predict", data={"file": (io.BytesIO(b"x" * 5000), "big.csv")},
                         content_type="multipart/form-data")
    check_page(answer, 413)
    assert "File too large" in answer.get_data(as_text=True)


def test_a_bad_upload_is_explained_on_the_form(client):
    answer = client.post("/predict", data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                         content_type="multipart/form-data")
    check_page(answer, 422)
    assert 'id="file-error"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("url, status", [("/prediction/NOPE", 404),
                                         ("/prediction/IBM?horizon=0", 422),
                                         ("/prediction/IBM?model=nope", 404),
                                         ("/prediction/IBM?level=0.7", 422),
                                         ("/no/such/page", 404)])
def test_errors_are_friendly_pages(client, url, status):
    answer = client.get(url)
    check_page(answer, status)
    html = answer.get_data(as_text=True)
    assert "<h1>" in html and 'role="alert"' in html and "Traceback" not in html


def test_static_assets_are_served_locally(client):
    html = client.get("/prediction/IBM").get_data(as_text=True)
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source


def _scaled_upload(tmp_path, last_close: float, name: str):
    """400 days of IBM's prices scaled so the last close is ``last_close``, as a Yahoo export."""
    frame = from_sample("IBM").iloc[-400:]
    scale = last_close / frame["close"].iloc[-1]
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d:%Y-%m-%d},{r.open * scale:.10g},{r.high * scale:.10g},{r.low * scale:.10g},"
              f"{r.close * scale:.10g},{r.close * scale:.10g},{r.volume:.0f}"
              for d, r in zip(frame.index, frame.itertuples())]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, frame


def _significant(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text).lstrip("0")
    return len(digits)


def test_a_price_below_a_dime_keeps_four_significant_digits_on_the_page(client, tmp_path):
    path, _ = _scaled_upload(tmp_path, 0.0839, "COIN.csv")
    with path.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "COIN.csv"), "horizon": "3",
                                               "as_of": "2013-02-25"},
                             content_type="multipart/form-data", follow_redirects=True)
    page = check_page(answer)
    html = answer.get_data(as_text=True)
    assert "0.08" in html and "0.08 –" not in html
    cells = [cell for row in page.rows if re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[0])
             for cell in row[1:]]
    numbers = [n for cell in cells for n in re.findall(r"[+-]?[\d,]*\.\d+", cell)]
    assert len(numbers) >= 3 * 5  # forecast, low, high, actual and error on each of 3 rows
    # Each price has 4 significant digits; the error (signed) has the decimals of the price
    # beside it, not 4 significant digits of its own; its percent has one decimal.
    unsigned = r"(?<![+\d.-])[\d,]*\.\d+(?!\d*%)"
    prices_shown = [n for cell in cells for n in re.findall(unsigned, cell)]
    assert prices_shown and all(_significant(n) >= 4 for n in prices_shown), prices_shown
    errors = [n for cell in cells for n in re.findall(r"[+-][\d,]*\.\d+(?!\d*%)", cell)]
    places = {len(n.split(".")[1]) for n in prices_shown}
    assert errors and all(len(n.split(".")[1]) in places for n in errors), (errors, places)
    percents = [n for cell in cells for n in re.findall(r"[+-]?\d+\.\d+(?=%)", cell)]
    assert percents and all(len(n.split(".")[1]) == 1 for n in percents), percents
    assert "forecast minus the actual close" in html


def test_a_large_price_has_thousands_separators(client, tmp_path):
    path, _ = _scaled_upload(tmp_path, 14566.65, "BIG.csv")
    with path.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "BIG.csv"), "horizon": "2"},
                             content_type="multipart/form-data", follow_redirects=True)
    check_page(answer)
    assert "From the close of 14,566.65" in answer.get_data(as_text=True)


def test_json_keeps_six_significant_digits_of_a_tiny_price(client, tmp_path):
    path, frame = _scaled_upload(tmp_path, 0.0000212345, "TINY.csv")
    with path.open("rb") as handle:
        body = client.post("/api/v1/forecast", data={"file": (handle, "TINY.csv"),
                                                     "horizon": "2"},
                           content_type="multipart/form-data").get_json()
    assert body["last_close"] == 0.0000212345  # 4 decimals made it 0.0
    assert all(row["close"] > 0 and row["low"] > 0 for row in body["forecast"])
    assert body["data"]["file_name"] == "TINY.csv"
    assert body["data"]["first_date"] == f"{frame.index[0]:%Y-%m-%d}"


def test_the_data_card_names_the_file_and_its_dates(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "MYCO.csv"), "horizon": "2"},
                             content_type="multipart/form-data", follow_redirects=True)
    check_page(answer)
    card = answer.get_data(as_text=True).split('id="data-info"')[1]
    first, last = (line.split(",")[0] for line in ibm_csv.read_text().splitlines()[1::399])
    assert "MYCO.csv" in card and first in card and last in card


def test_an_as_of_after_the_last_price_is_moved_there_with_a_notice(client):
    body = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2,
                                                 "as_of": "2014-01-02"}).get_json()
    assert body["as_of"] == "2013-03-01"
    moved = ("The prices end on 2013-03-01, before the as-of date 2014-01-02, so the forecast "
             "is made from 2013-03-01.")
    assert moved in body["notices"]
    html = client.get("/prediction/IBM?horizon=2&as_of=2014-01-02").get_data(as_text=True)
    assert moved in unescape(html.split('id="notices"')[1])


def test_another_forecast_keeps_the_values_just_used(client):
    html = client.get("/prediction/MSFT?horizon=7&as_of=2012-06-01&level=0.95"
                      "&model=general").get_data(as_text=True)
    link = unescape(re.search(r'<a [^>]*href="([^"]+)"[^>]*>Another forecast</a>', html)[1])
    form = client.get(link).get_data(as_text=True)
    assert 'value="MSFT"' in form and 'value="7"' in form and 'value="2012-06-01"' in form
    assert ("0.95", "95%", True) in _level_options(form)
    assert '<option value="general" selected>' in form


def test_each_notice_is_shown_once(client):
    html = unescape(client.get("/prediction/IBM?horizon=2").get_data(as_text=True))
    assert html.count("These are the bundled sample prices, which end on 2013-03-01") == 1


@pytest.mark.parametrize("ratios", [[None] * 30, [0.99] * 3], ids=["naive-mae-zero", "short"])
def test_a_model_without_a_test_figure_at_the_horizon_still_has_a_page(
        make_app, tmp_path, ratios):
    # train writes None where naive's test MAE was 0; an older model may hold fewer steps.
    import shutil

    from stockPredictor.model import artifacts

    models = tmp_path / "models"
    for name in ("general", "ibm"):
        shutil.copytree(BUNDLED_MODELS / name, models / name)
    meta = json.loads((models / "ibm" / "model.json").read_text())
    artifacts.update_metadata(models / "ibm", test_metrics={**meta["test_metrics"],
                                                            "mae_vs_naive": ratios})
    answer = make_app(MODELS_DIR=str(models)).test_client().get("/prediction/IBM?horizon=10")
    check_page(answer)
    assert "Test error vs naive" not in answer.get_data(as_text=True)


def test_the_forms_and_scripts_follow_the_packages_own_rules(client):
    from stockPredictor import rounding
    from stockPredictor.data.tickers import TICKER_MAX_CHARS, TICKER_PATTERN, html_pattern

    # (the ledger's filters show once it holds anything, or a filter is asked for)
    for url in ("/", "/predict", "/forecasts?ticker=IBM"):
        html = client.get(url).get_data(as_text=True)
        assert {unescape(p) for p in re.findall(r' pattern="([^"]+)"', html)} == {html_pattern()}
        assert f'maxlength="{TICKER_MAX_CHARS}"' in html
        assert (f'data-price-digits="{rounding.PAGE_DIGITS}" '
                f'data-price-decimals="{rounding.PAGE_DECIMALS}"') in html
    # A browser anchors the attribute: it accepts exactly what the server does.
    for text in ("IBM", "BRK-B", "^GSPC", "BTC-USD", "", "A" * 16, "IBM RM", "ibm/x"):
        assert bool(re.fullmatch(html_pattern(), text)) == bool(TICKER_PATTERN.match(text))
