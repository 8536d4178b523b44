"""When a newly trained model becomes its ticker's default (jobs/judge.py decide): only from a
ticker's own prices, only when its validation figure is below the incumbent's on the same
origins, never when either figure is missing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from stockPredictor.jobs.judge import decide


def _record(mine, theirs, general=None):
    steps = [{"h": h, "model": mine, "general": general, "incumbent": theirs} for h in (1, 2, 3)]
    return {"start": "2010-01-04", "end": "2011-06-30", "origins": 370, "steps": steps,
            "mean_model": mine, "mean_general": general, "mean_incumbent": theirs}


class _Incumbent(SimpleNamespace):
    """A served model that reports whether the validation dates lay in its training range."""

    def in_training(self, dates, ticker=None):
        return np.full(len(pd.DatetimeIndex(dates)), self.seen)


INCUMBENT = _Incumbent(name="ibm", seen=False)


@pytest.mark.parametrize("mine, theirs, expected, said", [
    (0.97, 0.99, True, ("0.970", "0.990")),        # below the incumbent: the new default
    (0.99, 0.99, False, ("0.9900", "0.9900")),     # a tie is not better
    (1.02, 0.99, False, ("1.020", "0.990")),       # worse
    (0.9902, 0.9904, True, ("0.9902", "0.9904")),  # apart only in the fourth place: shown
])
def test_only_a_lower_validation_figure_takes_over(mine, theirs, expected, said):
    is_default, why = decide(_record(mine, theirs), "IBM", INCUMBENT, "ibm")
    assert is_default is expected
    assert f"{said[0]} of no change's" in why and f"below {said[1]} for ibm" in why


def test_a_model_trained_on_a_file_is_never_a_default():
    is_default, why = decide(_record(0.5, 0.99), None, INCUMBENT, "ibm")
    assert is_default is False and "uploaded file" in why


def test_too_short_a_validation_period_decides_nothing():
    is_default, why = decide(_record(None, 0.99), "IBM", INCUMBENT, "ibm")
    assert is_default is False and "too short" in why


def test_an_incumbent_that_could_not_be_scored_keeps_its_place():
    is_default, why = decide(_record(0.9, None), "IBM", INCUMBENT, "ibm")
    assert is_default is False and "could not be scored" in why


def test_with_no_model_serving_the_ticker_the_new_one_serves_it():
    is_default, why = decide(_record(1.05, None), "IBM", None, None)
    assert is_default is True and "no model served IBM before" in why


def test_an_incumbent_that_saw_the_dates_is_said_to_be_flattered():
    seen = _Incumbent(name="general", seen=True)
    _, why = decide(_record(1.01, 0.98), "IBM", seen, "general")
    assert "may have seen these dates in training" in why


def test_a_better_general_model_is_said_when_it_is_not_the_incumbent():
    _, why = decide(_record(0.98, 0.99, general=0.95), "IBM", INCUMBENT, "ibm")
    assert "general model's was lower still (0.950)" in why
