"""The price files people really have, uploaded through the form; every page at phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from stockPredictor.data.sample import from_sample

UPLOAD_LABEL = "Or upload a CSV of your own prices (optional)"


def _ibm(rows: int = 300):
    return from_sample("IBM").iloc[-rows:]


def _lines(sep: str = ",", newest_first: bool = False, nulls: int = 0) -> list[str]:
    frame = _ibm()
    lines = [f"{d:%Y-%m-%d}{sep}{c:.4f}" for d, c in zip(frame.index, frame["close"])]
    for k in range(nulls):  # Yahoo writes null on a halted day
        lines.insert(100 + 10 * k, f"2012-01-0{k + 1}{sep}null")
    return [f"Date{sep}Close"] + (lines[::-1] if newest_first else lines)


def _long_file() -> str:
    rows = ["symbol,date,price"]
    for symbol in ("IBM", "MSFT"):
        frame = from_sample(symbol).iloc[-300:]
        rows += [f"{symbol},{d:%Y-%m-%d},{c:.4f}" for d, c in zip(frame.index, frame["close"])]
    return "\n".join(rows) + "\n"


def _nasdaq() -> str:
    # Nasdaq's export: newest first, US dates, dollar signs.
    frame = _ibm()
    rows = ["Date,Close/Last,Volume,Open,High,Low"]
    rows += [f'{d:%m/%d/%Y},"${r.close:,.2f}",{r.volume:.0f},"${r.open:,.2f}","${r.high:,.2f}",'
             f'"${r.low:,.2f}"' for d, r in zip(frame.index[::-1], frame.iloc[::-1].itertuples())]
    return "\n".join(rows) + "\n"


# name, file bytes, ticker typed, a sentence the page must show (or None)
SHAPES = [
    ("date-close", ("\n".join(_lines()) + "\n").encode(), "", None),
    ("newest-first", ("\n".join(_lines(newest_first=True)) + "\n").encode(), "", "sorted"),
    ("yahoo-nulls", ("\n".join(_lines(nulls=3)) + "\n").encode(), "", "3 rows"),
    ("semicolons", ("\n".join(_lines(";")) + "\n").encode(), "", None),
    ("tabs", ("\n".join(_lines("\t")) + "\n").encode(), "", None),
    ("utf16", ("\n".join(_lines()) + "\n").encode("utf-16"), "", None),
    ("long-file", _long_file().encode(), "MSFT", None),
    ("nasdaq", _nasdaq().encode(), "", "sorted"),
]


@pytest.mark.parametrize("name, content, ticker, notice", SHAPES, ids=[s[0] for s in SHAPES])
def test_each_csv_shape_is_forecast_through_the_form(page, tmp_path, name, content, ticker,
                                                     notice, screenshot):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    page.goto("/predict")
    page.get_by_label("Ticker").fill(ticker)
    page.get_by_label(UPLOAD_LABEL).set_input_files(str(path))
    page.get_by_label("Horizon (trading days)").fill("3")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator("#forecast-table tbody tr")).to_have_count(3)
    data = page.locator("#data-info")
    expect(data).to_contain_text(f"{name}.csv")
    expect(data).to_contain_text("2013-03-01")  # the last date of every file here
    if ticker:
        expect(page.locator("h1")).to_contain_text(ticker)
    expect(page.locator("h1")).not_to_contain_text("CSV")
    if notice:
        expect(data).to_contain_text(notice)  # what reading the file fixed
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    if name in ("long-file", "nasdaq"):
        screenshot(f"upload-{name}")


@pytest.mark.parametrize("content, says", [
    (_long_file().encode(), "IBM, MSFT"),
    (("Date,Close\n" + "\n".join(f"{d:%Y-%m-%d},{100 + i}" for i, d in enumerate(
        from_sample("IBM").resample("MS").first().index[-60:]))).encode(),
     "these prices are monthly"),
], ids=["several-symbols", "monthly"])
def test_a_file_that_cannot_be_forecast_is_explained_in_one_sentence(page, tmp_path, content,
                                                                     says):
    page.allowed.append("status of 422")
    path = tmp_path / "prices.csv"
    path.write_bytes(content)
    page.goto("/predict")
    page.get_by_label(UPLOAD_LABEL).set_input_files(str(path))
    page.get_by_role("button", name="Forecast", exact=True).click()
    error = page.locator("#file-error")
    expect(error).to_contain_text(says)
    assert len(error.inner_text()) <= 200


def test_a_price_below_a_dime_is_shown_with_four_significant_digits(page, tmp_path):
    frame = _ibm()
    scale = 0.0839 / frame["close"].iloc[-1]
    path = tmp_path / "penny.csv"
    path.write_text("Date,Close\n" + "\n".join(
        f"{d:%Y-%m-%d},{c * scale:.8g}" for d, c in zip(frame.index, frame["close"])) + "\n")
    page.goto("/predict")
    page.get_by_label(UPLOAD_LABEL).set_input_files(str(path))
    page.get_by_label("Horizon (trading days)").fill("2")
    page.get_by_role("button", name="Forecast", exact=True).click()
    expect(page.locator(".lead")).to_contain_text("From the close of 0.08390")
    band = page.locator("#forecast-table tbody tr").first.locator("td.band-cell")
    expect(band).not_to_have_text("0.08 – 0.08")
    expect(band).to_have_text(re.compile(r"0\.0\d{4} – 0\.0\d{4}"))


PAGES = {"search": "/", "card": "/?ticker=IBM", "form": "/predict",
         "forecast": "/prediction/IBM?horizon=1",
         "past-forecast": "/prediction/MSFT?horizon=10&as_of=2012-06-01",
         "not-found": "/prediction/NOPE"}


@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_the_screen_with_every_column_visible(page, name, screenshot):
    page.allowed.append("status of 404")
    page.goto(PAGES[name])
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.width
    cells = page.locator("#forecast-table tbody td")
    scroller = page.locator(".table-scroll")
    if cells.count():
        # The table fits, or (five columns on a phone) scrolls sideways in a box that fits the
        # screen and takes the keyboard, its dates pinned; the page itself never scrolls sideways.
        frame = scroller.bounding_box()
        assert frame["x"] >= 0 and frame["x"] + frame["width"] <= page.width
        assert scroller.get_attribute("tabindex") == "0"
        fits = scroller.evaluate("s => s.scrollWidth <= s.clientWidth")
        assert fits or (page.width < 600 and name == "past-forecast"), name
        for i in range(cells.count()):
            box = cells.nth(i).bounding_box()
            assert box and box["width"] > 0 and box["x"] >= 0
    if name == "past-forecast":  # Band, Actual and Error matter most for a past as_of
        labels = page.locator("#forecast-table thead th").all_inner_texts()
        assert {"Forecast", "80% band", "Actual", "Error"} <= set(labels), labels
    screenshot(f"page-{name}")
