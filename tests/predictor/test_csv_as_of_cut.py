"""The web's cut of a long file keeps the as_of's day, its history and its outcomes, bounded."""

import io

import numpy as np
import pandas as pd
import pytest

from stockPredictor.data.csv import MAX_DAILY_ROWS, read_csv

DAYS = 9_000
DATES = pd.bdate_range("1980-01-02", periods=DAYS)


def _csv(newest_first: bool = False) -> bytes:
    close = 20.0 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, DAYS)))
    frame = pd.DataFrame({"Date": DATES.strftime("%Y-%m-%d"), "Close": close})
    return frame.iloc[::-1 if newest_first else 1].to_csv(index=False).encode()


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("row", [0, 10, 3_000, 4_100, 5_200, 8_960, 8_999])
def test_the_as_ofs_day_history_and_outcomes_are_kept_within_the_bound(row, newest_first):
    frame = read_csv(io.BytesIO(_csv(newest_first)), ticker="X", as_of=DATES[row])
    assert len(frame) <= MAX_DAILY_ROWS + 30
    assert DATES[row] in frame.index
    at = frame.index.get_loc(DATES[row])
    # The 30 closes after it where the file has them; 1,500 days before it, or all it has.
    assert len(frame) - 1 - at >= min(30, DAYS - 1 - row)
    assert at >= min(1_500, row)


def test_an_as_of_before_the_file_keeps_its_first_days_and_a_later_one_its_newest():
    early = read_csv(io.BytesIO(_csv()), ticker="X", as_of="1970-01-01")
    assert early.index[0] == DATES[0] and len(early) == MAX_DAILY_ROWS + 30
    for later in ("2030-01-01", "not a date", None):
        frame = read_csv(io.BytesIO(_csv()), ticker="X", as_of=later)
        assert frame.index[-1] == DATES[-1] and len(frame) == MAX_DAILY_ROWS


def test_the_command_lines_whole_read_ignores_the_as_of():
    frame = read_csv(io.BytesIO(_csv()), ticker="X", whole=True, as_of=DATES[100])
    assert len(frame) == DAYS and frame.attrs["notices"] == []
