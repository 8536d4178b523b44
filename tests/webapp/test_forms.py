"""The forecast form keeps what the person typed: every refusal brings the form back with its
values, the message beside the field and the focus on it; the date field knows its bounds; an
upload answers with a redirect to its permanent page."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from stockPredictor.data.sample import from_sample
from stockPredictor.settings import BUNDLED_MODELS

from tests.servers import free_port

TYPED = {"ticker": "FB", "horizon": "7", "level": "0.95", "as_of": "2012-06-01",
         "model": "general"}
INPUT_IDS = {"ticker": "f-ticker", "horizon": "f-horizon", "level": "f-level",
             "as_of": "f-as-of", "model": "f-model", "file": "f-file"}


class Form(HTMLParser):
    """The forecast form as a browser would fill it: each field's attributes and value."""

    def __init__(self, html: str):
        super().__init__()
        self.fields, self._select = {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs
        elif tag == "select":
            self._select = attrs["name"]
            self.fields[self._select] = {**attrs, "value": ""}
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select]["value"] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _earliest(ticker: str, model: str):
    """The earliest as-of date, from the sample's rows and the model's own file: a window of
    daily log returns reads window + 1 closes, so it ends on the (window + 1)-th trading day."""
    config = json.loads((BUNDLED_MODELS / model / "model.json").read_text())["model"]
    assert config["target"] == "log_return"
    frame = from_sample(ticker)
    return f"{frame.index[config['window']]:%Y-%m-%d}", f"{frame.index[-1]:%Y-%m-%d}"


def refused_form(answer, status: int, field: str, kept: dict) -> str:
    """The form came back with ``status``, ``kept`` in its fields, the message beside ``field``,
    the summary linking to it, and the focus on it; the message, unescaped."""
    assert answer.status_code == status, answer.data[:300]
    html = answer.get_data(as_text=True)
    form = Form(html)
    for name, value in kept.items():
        assert form.fields[name]["value"] == value, (name, form.fields[name])
    refused = form.fields[field]
    assert refused["id"] == INPUT_IDS[field]
    assert refused.get("aria-invalid") == "true" and "autofocus" in refused
    assert f"{field}-error" in refused["aria-describedby"].split()
    assert html.count("autofocus") == 1 and html.count('aria-invalid="true"') == 1
    message = re.search(rf'<p id="{field}-error" class="field-error">(.*?)</p>', html)
    assert message, html
    summary = re.search(r'id="error-summary"[^>]*role="alert".*?</div>', html, re.S)
    assert summary and f'href="#{INPUT_IDS[field]}"' in summary.group(0)
    return unescape(re.sub(r"<[^>]+>", "", message.group(1)))


def test_an_as_of_too_early_keeps_every_value_and_names_the_earliest_date(client):
    earliest, last = _earliest("FB", "general")
    message = refused_form(client.post("/predict", data=TYPED), 422, "as_of", TYPED)
    assert message.startswith("The as-of date 2012-06-01 is too early")
    assert f"FB's prices start on {from_sample('FB').index[0]:%Y-%m-%d}" in message
    assert f"the earliest date a forecast can be made from is {earliest}" in message
    assert f"Choose a date from {earliest} to {last}." in message
    assert "row(s)" not in message and "as_of=" not in message  # no developer-speak
    html = client.post("/predict", data=TYPED).get_data(as_text=True)
    assert f'<span class="date">{earliest}</span>' in html  # never broken at a hyphen
    # The API says the same, with its status.
    body = client.post("/api/v1/forecast", json={**TYPED, "horizon": 7, "level": 0.95})
    assert body.status_code == 422 and body.get_json()["message"] == f"as_of: {message}"


@pytest.mark.parametrize("typed, field, status", [
    ({"ticker": "NVDA"}, "ticker", 404),
    ({"ticker": "FB!"}, "ticker", 422),
    ({"horizon": "99"}, "horizon", 422),
    ({"horizon": "2.5"}, "horizon", 422),
    ({"level": "0.7"}, "level", 422),
    ({"as_of": "2999-01-01"}, "as_of", 422),  # after today
    ({"as_of": "1999-01-01"}, "as_of", 422),  # before FB's first price
    ({"as_of": "June 1"}, "as_of", 422),
], ids=["unknown", "pattern", "horizon-99", "horizon-2.5", "level", "too-late", "too-early",
        "not-a-date"])
def test_a_refused_form_keeps_every_value(client, typed, field, status):
    sent = {**TYPED, "as_of": "2012-09-14", **typed}
    kept = {key: value for key, value in sent.items() if key != "level" or field != "level"}
    refused_form(client.post("/predict", data=sent), status, field, kept)


def test_an_unknown_model_keeps_the_other_values(client):
    sent = {**TYPED, "as_of": "2012-09-14", "model": "nope"}
    message = refused_form(client.post("/predict", data=sent), 404, "model",
                           {k: v for k, v in sent.items() if k != "model"})
    assert "nope" in message


def test_yahoo_down_keeps_the_values_with_a_503(make_app, fake_yahoo):
    from yfinance.exceptions import YFRateLimitError
    fake_yahoo(YFRateLimitError())
    client = make_app(PRICE_SOURCE="yahoo").test_client()
    sent = {**TYPED, "ticker": "TSLA", "as_of": ""}
    refused_form(client.post("/predict", data=sent), 503, "ticker", sent)


@pytest.mark.parametrize("query, field, status", [
    ("/prediction/FB?horizon=7&level=0.95&as_of=2012-06-01&model=general", "as_of", 422),
    ("/prediction/NVDA?horizon=7&level=0.95&as_of=2012-06-01&model=general", "ticker", 404),
    ("/prediction/FB?horizon=99&level=0.95&as_of=2012-06-01&model=general", "horizon", 422),
])
def test_the_forecast_page_refuses_with_the_form_and_its_values(client, query, field, status):
    # Where the form's redirect (or a shared link) leads when the options cannot be forecast.
    ticker, options = re.match(r"/prediction/(\w+)\?(.*)", query).groups()
    kept = {"ticker": ticker, **dict(pair.split("=") for pair in options.split("&"))}
    refused_form(client.get(query), status, field, kept)


def test_the_date_field_carries_the_tickers_usable_dates(client):
    earliest, last = _earliest("FB", "general")
    html = client.get("/predict?ticker=FB").get_data(as_text=True)
    date = Form(html).fields["as_of"]
    assert (date["min"], date["max"]) == (earliest, last)
    assert f"From {earliest} to {last} for FB." in html
    # Another model reads another window, so its earliest date is another.
    ibm_earliest, _ = _earliest("FB", "ibm")
    assert ibm_earliest < earliest
    date = Form(client.get("/predict?ticker=FB&model=ibm").get_data(as_text=True)).fields["as_of"]
    assert (date["min"], date["max"]) == (ibm_earliest, last)
    # No ticker, or one the sample does not have: no bounds to give.
    for url in ("/predict", "/predict?ticker=NVDA"):
        assert "min" not in Form(client.get(url).get_data(as_text=True)).fields["as_of"]


def test_the_forms_script_reads_the_dates_and_the_warning_as_json(client):
    earliest, last = _earliest("MSFT", "ibm")
    body = client.get("/predict/dates?ticker=msft&model=ibm").get_json()
    assert body["earliest"] == earliest and body["latest"] == last
    assert body["text"] == f"From {earliest} to {last} for MSFT."
    assert body["warning"].startswith("This model was trained on IBM alone, not on MSFT")
    for query in ("ticker=NVDA", "ticker=", "ticker=FB&model=nope", "ticker=" + "A" * 500):
        assert client.get(f"/predict/dates?{query}").get_json()["earliest"] is None


@pytest.mark.parametrize("ticker, model, warned", [("MSFT", "ibm", True), ("IBM", "ibm", False),
                                                   ("MSFT", "general", False),
                                                   ("MSFT", "", False)])
def test_a_model_trained_on_another_ticker_is_warned_of(client, ticker, model, warned):
    html = unescape(client.get(f"/predict?ticker={ticker}&model={model}")
                    .get_data(as_text=True))
    warning = re.search(r'<p id="f-model-warning"[^>]*>([^<]*)</p>', html).group(1)
    expected = ("This model was trained on IBM alone, not on MSFT: its track record on MSFT is "
                "what to judge it by.")
    assert warning == (expected if warned else "")
    assert "f-model-warning" in Form(html).fields["model"]["aria-describedby"]


def test_an_upload_answers_with_a_redirect_to_its_permanent_page(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={
            "file": (handle, "MYCO.csv"), "ticker": "", "horizon": "3", "level": "0.5",
            "as_of": "2013-02-26", "model": "general"}, content_type="multipart/form-data")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert re.fullmatch(r"/prediction/upload/\d+\?horizon=3&as_of=2013-02-26&model=general"
                        r"&level=0.5", location), location
    page = client.get(location)
    assert page.status_code == 200 and "MYCO" in page.get_data(as_text=True)


@pytest.mark.parametrize("content, field", [
    (b"a,b\n1,2\n", "file"),  # not prices
    (None, "as_of"),  # a good file, an as-of date before it starts
])
def test_a_refused_upload_keeps_the_fields_and_asks_for_the_file_again(client, ibm_csv,
                                                                       content, field):
    content = ibm_csv.read_bytes() if content is None else content
    sent = {"ticker": "", "horizon": "3", "level": "0.5", "as_of": "2005-01-03",
            "model": "general"}
    answer = client.post("/predict", data={**sent, "file": (io.BytesIO(content), "mine.csv")},
                         content_type="multipart/form-data")
    refused_form(answer, 422, field, sent)
    html = unescape(answer.get_data(as_text=True))
    assert "Choose the file (mine.csv) again" in html
    assert "f-file-again" in Form(html).fields["file"]["aria-describedby"]


def test_an_upload_the_database_cannot_keep_is_forecast_in_the_answer(make_app, ibm_csv):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "MYCO.csv"), "horizon": "2"},
                             content_type="multipart/form-data")
    # No permanent page to send the person to: the forecast is the answer, and says so.
    assert answer.status_code == 200
    html = unescape(answer.get_data(as_text=True))
    assert 'id="forecast-table"' in html and "no permanent link" in html


def test_a_stored_uploads_page_with_bad_options_brings_the_form_back(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        location = client.post("/predict", data={"file": (handle, "MYCO.csv"), "ticker": "",
                                                 "horizon": "3"},
                               content_type="multipart/form-data").headers["Location"]
    answer = client.get(location.replace("horizon=3", "horizon=3&as_of=2005-01-03"))
    refused_form(answer, 422, "as_of", {"horizon": "3", "as_of": "2005-01-03"})
    # The stored file is used again: nothing to choose again.
    html = answer.get_data(as_text=True)
    assert "The stored file MYCO.csv is used again" in html and "Choose the file" not in html
