"""The command line reads a local CSV whole; the 5,000-day bound is the web upload's alone."""

import json

import numpy as np
import pandas as pd
import pytest

from stockPredictor.cli import main
from stockPredictor.data.csv import MAX_DAILY_ROWS, read_csv
from stockPredictor.settings import BUNDLED_MODELS

DAYS = 8_000  # business days from 1986: to 2016, well past the web's 5,000


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory):
    """A Yahoo-style CSV of 8,000 business days of a random walk, oldest first."""
    dates = pd.bdate_range("1986-01-02", periods=DAYS)
    rng = np.random.default_rng(23)
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, DAYS)))
    path = tmp_path_factory.mktemp("long") / "LONG.csv"
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": close, "High": close * 1.01,
                  "Low": close * 0.99, "Close": close, "Volume": 1_000_000}).to_csv(
        path, index=False, float_format="%.6f")
    return path, dates


def test_the_reader_keeps_the_web_bound_by_default_and_whole_reads_all(long_csv):
    path, dates = long_csv
    cut = read_csv(path)
    assert len(cut) == MAX_DAILY_ROWS and cut.index[-1] == dates[-1]
    assert any("most recent 5,000" in n for n in cut.attrs["notices"])
    whole = read_csv(path, whole=True)
    assert len(whole) == DAYS and whole.index[0] == dates[0]
    assert whole.attrs["notices"] == []


def test_fetch_reads_every_day_of_a_local_file(long_csv, capsys):
    path, dates = long_csv
    capsys.readouterr()
    assert main(["fetch", "--csv", str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{DAYS} days from {dates[0].date()} to {dates[-1].date()}" in captured.out
    assert "kept" not in captured.err


def test_evaluate_start_end_in_the_early_years_scores_that_range(long_csv, capsys):
    path, dates = long_csv
    start, end, horizon = "1990-01-02", "1999-12-31", 4
    capsys.readouterr()
    assert main(["evaluate", "--csv", str(path), "--models", str(BUNDLED_MODELS),
                 "--model", "general", "--horizon", str(horizon), "--start", start,
                 "--end", end, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    in_range = dates[(dates >= start) & (dates <= end)]
    # Every day of the range is an origin but the last `horizon`, whose outcomes lie past end.
    assert data["origins"] == len(in_range) - horizon
    assert data["start"] == start
    assert data["end"] == in_range[-1 - horizon].strftime("%Y-%m-%d")
