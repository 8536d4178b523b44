"""Prices keep their significant digits at any level: a coin at 0.00002 is not 0."""

from __future__ import annotations

import math

import pytest
from stockPredictor import rounding


@pytest.mark.parametrize("value, expected", [
    (0.0000212345678, 0.0000212346),  # 6 significant digits where 4 decimals would give 0
    (0.0839123, 0.0839123),
    (175.271183, 175.2712),  # never fewer than 4 decimals in JSON
    (14566.6543, 14566.6543),
    (-0.00123456789, -0.00123457),
    (0.0, 0.0),
])
def test_json_prices_keep_six_significant_digits_and_four_decimals(value, expected):
    assert rounding.price(value) == expected
    assert rounding.prices([value]) == [expected]


def test_prices_rounds_an_array_like_price_and_keeps_nan():
    values = [0.0000212345678, 175.271183, float("nan"), 14566.6543]
    out = rounding.prices(values)
    assert out[:2] == [0.0000212346, 175.2712] and math.isnan(out[2]) and out[3] == 14566.6543


@pytest.mark.parametrize("value, sign, expected", [
    (0.0839, False, "0.08390"),  # 4 significant digits, where '%.2f' showed 0.08
    (0.00002, False, "0.00002000"),
    (14566.6543, False, "14,566.65"),
    (1234567.891, False, "1,234,567.89"),
    (123.456, False, "123.46"),
    (-1.5, True, "-1.500"),
    (2.25, True, "+2.250"),
    (float("nan"), False, "n/a"),
])
def test_page_prices_have_separators_and_four_significant_digits(value, sign, expected):
    assert rounding.price_text(value, sign=sign) == expected
