"""A long upload cut to the web's 5,000 days keeps the days around the as_of asked for."""

from __future__ import annotations

import io
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

DAYS = 9_000  # business days from 1980: well past the web's 5,000
DATES = pd.bdate_range("1980-01-02", periods=DAYS)
# Row 5,200: inside the newest 5,000 (rows 4,000 on) but 1,200 days into them, too few for the
# history a forecast reads; rows 201..5,230 are the 5,000 ending there and the 30 after.
OLD = 5_200


def day(row: int) -> str:
    return f"{DATES[row]:%Y-%m-%d}"


@pytest.fixture(scope="module")
def long_csv() -> bytes:
    """A Yahoo-style CSV of DAYS business days of a random walk, oldest first."""
    rng = np.random.default_rng(7)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, DAYS)))
    return pd.DataFrame({"Date": DATES.strftime("%Y-%m-%d"), "Open": close,
                         "High": close * 1.01, "Low": close * 0.99, "Close": close,
                         "Volume": 1_000}).to_csv(index=False, float_format="%.4f").encode()


def _api(client, content: bytes, **fields):
    return client.post("/api/v1/forecast", content_type="multipart/form-data",
                       data={"horizon": "5", **fields, "file": (io.BytesIO(content), "LONG.csv")})


AROUND = (f"The file covers {DAYS:,} days; the 5,030 around the as-of date {day(OLD)} "
          f"({day(OLD - 4_999)} to {day(OLD + 30)}) were kept.")


def test_the_api_keeps_the_days_around_an_old_as_of_and_says_so(client, long_csv):
    answer = _api(client, long_csv, as_of=day(OLD))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["as_of"] == day(OLD)
    assert AROUND in body["notices"] and AROUND in body["data"]["notices"]
    # Its outcomes are there: the five closes after the as_of are known.
    assert body["outcome"]["days"] == 5
    assert [row["date"] for row in body["actual"]] == [day(OLD + k) for k in range(1, 6)]
    # The link reads the stored file again around the same as_of: the same forecast.
    again = client.get(body["url"])
    assert again.status_code == 200 and AROUND in unescape(again.get_data(as_text=True))
    json_download = re.search(r'href="(/prediction/upload/\d+/forecast\.json[^"]*)"',
                              again.get_data(as_text=True))
    shown = client.get(unescape(json_download.group(1))).get_json()
    assert shown["forecast"] == body["forecast"] and shown["as_of"] == day(OLD)


def test_without_an_as_of_the_newest_days_are_kept_as_before(client, long_csv):
    body = _api(client, long_csv).get_json()
    assert body["as_of"] == day(DAYS - 1) and body["outcome"] is None
    assert (f"The file holds {DAYS:,} rows of prices; the most recent 5,000 were kept."
            in body["notices"])
    assert not any("as-of date" in notice for notice in body["notices"])
    # The same stored file by its link with an old as_of: the days around that one.
    page = client.get(f"{body['url']}&as_of={day(OLD)}")
    assert page.status_code == 200 and AROUND in unescape(page.get_data(as_text=True))


def test_an_as_of_well_inside_the_newest_days_keeps_them(client, long_csv):
    body = _api(client, long_csv, as_of=day(7_000)).get_json()
    assert body["as_of"] == day(7_000)
    assert (f"The file's rows cover {DAYS:,} days; the most recent 5,000 were kept."
            in body["notices"])
    assert body["track_record"]["start"] >= day(4_000)  # nothing before the newest 5,000


def test_the_page_forecasts_an_old_as_of_of_a_long_upload(client, long_csv):
    old = 1_000  # before the newest 5,000: the first 5,030 days are kept
    answer = client.post("/predict", content_type="multipart/form-data", data={
        "file": (io.BytesIO(long_csv), "LONG.csv"), "horizon": "5", "ticker": "",
        "as_of": day(old)})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert f"as_of={day(old)}" in answer.headers["Location"]
    page = client.get(answer.headers["Location"])
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert (f"The file covers {DAYS:,} days; the 5,030 around the as-of date {day(old)} "
            f"({day(0)} to {day(5_029)}) were kept.") in html
    found = re.search(r'href="(/prediction/upload/\d+/forecast\.json[^"]*)"', html)
    shown = client.get(found.group(1)).get_json()
    assert shown["as_of"] == day(old) and shown["outcome"]["days"] == 5
