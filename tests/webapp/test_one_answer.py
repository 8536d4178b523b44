"""One forecast, told the same way on every surface: the API, the CLI, the page and its
downloads render one report, built from one table read at one origin."""

from __future__ import annotations

import io
import json
import re
from html import unescape

import pytest

from stockPredictor.cli import main
from stockPredictor.data.sample import from_sample
from stockPredictor.forecast import predict, tables
from stockPredictor.forecast.bands import LEVELS

ASKED = {"ticker": "IBM", "horizon": 5, "as_of": "2012-06-01", "level": 0.95, "model": "general"}
VOLATILE = ("fetched_at", "age_days")


def _cli_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["predict", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _without(document: dict, *keys: str) -> dict:
    document = {k: v for k, v in document.items() if k not in keys}
    document["data"] = {k: v for k, v in document["data"].items() if k not in VOLATILE}
    return document


def test_the_cli_prints_the_apis_document(client, capsys):
    api = client.post("/api/v1/forecast", json=ASKED).get_json()
    cli = _cli_json(capsys, "--ticker", "IBM", "--source", "sample", "--horizon", "5",
                    "--as-of", "2012-06-01", "--level", "0.95", "--model", "general")
    assert api["url"] is None and "url" not in cli  # the page address: the API's alone
    assert cli == {k: v for k, v in api.items() if k != "url"}


def test_the_cli_prints_the_apis_document_for_a_file(client, capsys, ibm_csv):
    with ibm_csv.open("rb") as handle:
        form = {"file": (handle, "MYCO.csv"), "horizon": "3"}
        api = client.post("/api/v1/forecast", data=form,
                          content_type="multipart/form-data").get_json()
    cli = _cli_json(capsys, "--csv", str(ibm_csv), "--horizon", "3")
    assert api["url"].startswith("/prediction/upload/")
    assert _without(cli) == _without(api, "url")


def _card(html: str, element: str) -> str:
    found = re.search(rf'id="{element}"[^>]*>(.*?)</(?:dd|tbody|table)>', html, re.S)
    assert found, element
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*\.\d+", text)]


def test_the_page_shows_one_error_against_no_change_at_the_horizon(client):
    horizon = 20
    html = client.get(f"/prediction/MSFT?horizon={horizon}&as_of=2012-06-01").get_data(
        as_text=True)
    api = client.post("/api/v1/forecast", json={"ticker": "MSFT", "horizon": horizon,
                                                "as_of": "2012-06-01"}).get_json()
    card = _numbers(_card(html, "record-ratio-number"))[0]
    steps = re.findall(r"<tr[^>]*><th scope=\"row\">(\d+)</th><td>([\d.]+|n/a)</td>",
                       html.split('id="record-steps-table"')[1].split("</table>")[0])
    by_step = dict((int(step), float(value)) for step, value in steps)
    past = re.findall(r"<tr><th scope=\"row\"><span class=\"date\">[\d-]+</span></th>"
                      r"<td>([\d,.]+)</td><td>([\d,.]+)</td><td>([\d,.]+)</td></tr>",
                      html.split('id="record-past-table"')[1].split("</table>")[0])
    forecast, actual, naive = (
        [float(v.replace(",", "")) for v in column] for column in zip(*past))
    from_pictures = (sum(abs(f - a) for f, a in zip(forecast, actual))
                     / sum(abs(n - a) for n, a in zip(naive, actual)))
    assert len(past) == api["track_record"]["origins"] == 250
    # Shown to 3 places, the answer's figure to 4.
    assert card == by_step[horizon] == round(api["track_record"]["mae_vs_naive"][horizon - 1], 3)
    assert card == pytest.approx(from_pictures, abs=2e-3)  # prices rounded to 2 decimals
    # The set of origins is stated once on the page (the chart's data island aside), and the
    # pictures' captions refer to it rather than give dates of their own.
    text = re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)
    assert text.count(api["track_record"]["start"]) == 1


def _links(html: str) -> dict[str, tuple[str, bool]]:
    nav = html.split('class="button-group band-levels"')[1].split("</nav>")[0]
    return {name: (unescape(href), "aria-current" in attrs) for href, attrs, name in
            re.findall(r'<a class="button button-secondary" href="([^"]+)"([^>]*)>(\d+%)</a>',
                       nav)}


def test_the_band_level_is_in_the_address_and_drives_the_table_and_downloads(client):
    html = client.get("/prediction/IBM?horizon=4&as_of=2012-06-01&level=0.95").get_data(
        as_text=True)
    links = _links(html)
    assert links == {
        "50%": ("/prediction/IBM?horizon=4&as_of=2012-06-01&level=0.5", False),
        "80%": ("/prediction/IBM?horizon=4&as_of=2012-06-01", False),  # the default: left out
        "95%": ("/prediction/IBM?horizon=4&as_of=2012-06-01&level=0.95", True)}
    assert "with the 95% band" in html and "Inside the 95% band" in html
    hrefs = {kind: unescape(href) for href, kind in
             re.findall(r'href="(/prediction/IBM/forecast\.(json|csv)\?[^"]+)" download', html)}
    assert "with its 95% band" in html and all("level=0.95" in h for h in hrefs.values())
    document = client.get(hrefs["json"]).get_json()
    csv_rows = client.get(hrefs["csv"]).get_data(as_text=True).splitlines()
    assert document["level"] == 0.95 and document["track_record"]["level"] == 0.95
    first = document["forecast"][0]
    assert first["low"] == document["bands"]["0.95"][0]["low"]
    assert csv_rows[1].split(",")[2:4] == [str(first["low"]), str(first["high"])]
    # The table's band column shows the 95% band too.
    row = html.split('id="forecast-table"')[1].split("</tbody>")[0]
    assert f"{first['low']:,.2f} – {first['high']:,.2f}" in unescape(row)


def test_a_level_without_a_band_is_not_offered(client):
    short = from_sample("IBM").iloc[-80:]  # too few past errors to calibrate a band
    lines = ["Date,Close"] + [f"{d:%Y-%m-%d},{c:.4f}"
                              for d, c in zip(short.index, short["close"])]
    html = client.post("/predict", data={"file": (io.BytesIO("\n".join(lines).encode()),
                                                  "SHORT.csv"), "horizon": "4"},
                       content_type="multipart/form-data",
                       follow_redirects=True).get_data(as_text=True)
    assert _links(html) == {}
    assert html.count('aria-disabled="true"') == len(LEVELS)


@pytest.mark.parametrize("surface", ["api", "page"])
def test_a_request_reads_one_table_at_one_origin(client, monkeypatch, surface):
    calls = {"table_for": 0, "origin_row": 0, "rows_until": 0}

    def counted(module, name):
        real = getattr(module, name)

        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, call)

    counted(tables, "table_for")
    counted(predict, "origin_row")
    counted(predict, "rows_until")
    if surface == "api":
        answer = client.post("/api/v1/forecast", json=ASKED)
    else:
        answer = client.get("/prediction/IBM?horizon=5&as_of=2012-06-01&level=0.95")
    assert answer.status_code == 200
    assert calls == {"table_for": 1, "origin_row": 1, "rows_until": 1}
