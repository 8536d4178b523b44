"""An upload's permanent link: kept in the database, the same forecast again, after a restart."""

from __future__ import annotations

import base64
import json
import re
from html import unescape

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stockPredictor.store.models import LedgerForecast, Upload
from tests.servers import free_port


def _upload(client, path, name="MYCO.csv", **fields):
    form = {"horizon": "4", **fields}
    with path.open("rb") as handle:
        return client.post("/api/v1/forecast", data={**form, "file": (handle, name)},
                           content_type="multipart/form-data")


def _page_result(answer, client=None) -> dict:
    """The forecast a page shows, from its JSON download: an address of its own when the upload
    is kept, else carried in the page as a data: URL."""
    html = answer.get_data(as_text=True)
    found = re.search(r'href="(/prediction/upload/\d+/forecast\.json[^"]*)" download', html)
    if found and client is not None:
        return client.get(unescape(found.group(1))).get_json()
    found = re.search(r'href="data:application/json;charset=utf-8;base64,([^"]+)"', html)
    assert found, "the page has no JSON download"
    return json.loads(base64.b64decode(found.group(1)))


def test_the_answer_for_an_upload_links_to_the_same_forecast(client, ibm_csv):
    answer = _upload(client, ibm_csv)
    assert answer.status_code == 200
    body = answer.get_json()
    assert re.fullmatch(r"/prediction/upload/\d+\?horizon=4", body["url"])
    page = client.get(body["url"])
    assert page.status_code == 200
    assert "Permanent link" in page.get_data(as_text=True)
    shown = _page_result(page, client)
    assert shown["ticker"] == body["ticker"] == "MYCO"  # still named after the file
    assert shown["forecast"] == body["forecast"] and shown["as_of"] == body["as_of"]
    assert shown["data"]["file_name"] == "MYCO.csv" and shown["url"] == body["url"]


def test_the_link_keeps_the_options_and_the_ticker_field(client, ibm_csv):
    body = _upload(client, ibm_csv, ticker="IBM", horizon="3", as_of="2013-02-26",
                   level="0.95").get_json()
    assert body["url"].startswith("/prediction/upload/")
    assert "as_of=2013-02-26" in body["url"] and "level=0.95" in body["url"]
    shown = _page_result(client.get(body["url"]), client)
    assert shown["ticker"] == "IBM" and shown["forecast"] == body["forecast"]
    assert shown["level"] == 0.95


def test_a_ticker_forecast_has_no_link(client):
    body = client.post("/api/v1/forecast", json={"ticker": "IBM", "horizon": 2}).get_json()
    assert body["url"] is None


def test_the_link_works_after_a_restart(make_app, empty_url, ibm_csv):
    first = make_app(DATABASE_URL=empty_url).test_client()
    body = _upload(first, ibm_csv).get_json()
    restarted = make_app(DATABASE_URL=empty_url).test_client()
    page = restarted.get(body["url"])
    assert page.status_code == 200
    assert _page_result(page, restarted)["forecast"] == body["forecast"]


def test_the_same_file_twice_gets_the_same_id_and_another_name_its_own(client, ibm_csv):
    first = _upload(client, ibm_csv).get_json()
    again = _upload(client, ibm_csv).get_json()
    assert first["url"] == again["url"]
    # The name titles the forecast, so another name is another page, and each link keeps its own.
    other = _upload(client, ibm_csv, name="AAPL.csv").get_json()
    assert other["url"].split("?")[0] != first["url"].split("?")[0]
    assert _page_result(client.get(other["url"]), client)["ticker"] == "AAPL"
    assert _page_result(client.get(first["url"]), client)["ticker"] == "MYCO"
    # So is another ticker asked of the same file.
    named = _upload(client, ibm_csv, ticker="IBM").get_json()
    assert named["url"].split("?")[0] not in (first["url"].split("?")[0],
                                              other["url"].split("?")[0])


def test_the_form_sends_an_upload_to_its_permanent_link(client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"file": (handle, "MYCO.csv"), "horizon": "4",
                                               "ticker": ""},
                             content_type="multipart/form-data")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert re.fullmatch(r"/prediction/upload/\d+\?horizon=4", location)
    page = client.get(location)
    found = re.search(r'<a href="(/prediction/upload/\d+\?horizon=4)">',
                      page.get_data(as_text=True))
    assert page.status_code == 200 and found and found.group(1) == location


def test_an_uploads_forecast_is_a_replay_the_ledger_does_not_keep(app, ibm_csv):
    client = app.test_client()
    body = _upload(client, ibm_csv).get_json()
    app.extensions["ledger"].flush()
    # Recomputed from the stored file on demand, so it never fills the ledger.
    with Session(app.extensions["database"].engine) as session:
        assert session.scalars(select(LedgerForecast.id)).all() == []
    assert _page_result(client.get(body["url"]), client)["forecast"] == body["forecast"]


@pytest.mark.parametrize("path", ["/prediction/upload/999", "/prediction/upload/0",
                                  "/prediction/upload/99999999999999999999",
                                  "/prediction/upload/abc", "/prediction/upload/-1"])
def test_an_unknown_upload_is_a_404_page(client, path):
    answer = client.get(path)
    assert answer.status_code == 404 and answer.mimetype == "text/html"


def test_with_the_database_down_an_upload_is_still_forecast(make_app, ibm_csv):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    answer = _upload(client, ibm_csv)
    assert answer.status_code == 200
    body = answer.get_json()
    assert len(body["forecast"]) == 4 and body["url"] is None
    # No link to show, and an old link says why it cannot be served now: no 500.
    assert client.get("/prediction/upload/1").status_code == 503


def test_with_the_database_down_the_uploads_page_offers_no_band_link(make_app, ibm_csv):
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2"
    client = make_app(DATABASE_URL=url).test_client()
    with ibm_csv.open("rb") as handle:
        html = client.post("/predict", data={"file": (handle, "MYCO.csv"), "horizon": "4"},
                           content_type="multipart/form-data").get_data(as_text=True)
    nav = html.split('class="button-group band-levels"')[1].split("</nav>")[0]
    # A link would lead to another series (a ticker of the same name): none is offered, the
    # chosen level is shown, the others say to choose on the form.
    assert "href=" not in nav and 'aria-current="true">80%' in nav
    assert nav.count("choose the band on the form") == 2


@pytest.mark.parametrize("fields", [{"as_of": "2000-03-10"}, {"horizon": "31"},
                                    {"model": "nope"}])
def test_an_upload_whose_forecast_is_refused_is_not_stored(app, client, ibm_csv, fields):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"horizon": "4", **fields,
                                               "file": (handle, "MYCO.csv")},
                             content_type="multipart/form-data")
    assert 400 <= answer.status_code < 500 and "MYCO.csv" in answer.get_data(as_text=True)
    with Session(app.extensions["database"].engine) as session:
        assert session.scalars(select(Upload.id)).all() == []
    # The same file with options that can be forecast is kept, and linked.
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"horizon": "4", "file": (handle, "MYCO.csv")},
                             content_type="multipart/form-data")
    assert answer.status_code == 303
    with Session(app.extensions["database"].engine) as session:
        assert len(session.scalars(select(Upload.id)).all()) == 1


def test_a_stored_uploads_refused_options_keep_the_file(app, client, ibm_csv):
    with ibm_csv.open("rb") as handle:
        answer = client.post("/predict", data={"horizon": "4", "file": (handle, "MYCO.csv")},
                             content_type="multipart/form-data")
    upload_id = int(re.search(r"/upload/(\d+)", answer.headers["Location"]).group(1))
    refused = client.get(f"/prediction/upload/{upload_id}?horizon=4&as_of=2000-03-10")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f'<input type="hidden" name="upload_id" value="{upload_id}">' in html
    assert "The stored file MYCO.csv is used again" in html and "Choose the file" not in html
    # Sent again with a date it can be forecast from: the same stored file's page, no new copy.
    again = client.post("/predict", data={"horizon": "4", "as_of": "2012-06-01",
                                          "upload_id": str(upload_id), "ticker": ""})
    assert again.status_code == 303
    assert again.headers["Location"] == (
        f"/prediction/upload/{upload_id}?horizon=4&as_of=2012-06-01")
    with Session(app.extensions["database"].engine) as session:
        assert session.scalars(select(Upload.id)).all() == [upload_id]
    # Refused again, the form still names the stored file; a forged id is no file at all.
    still = client.post("/predict", data={"horizon": "4", "as_of": "2000-03-10",
                                          "upload_id": str(upload_id)})
    assert still.status_code == 422 and f'value="{upload_id}"' in still.get_data(as_text=True)
    for forged in ("9" * 5000, "-1", "0", "abc", "99999"):
        answer = client.post("/predict", data={"horizon": "4", "upload_id": forged})
        assert 400 <= answer.status_code < 500, forged
