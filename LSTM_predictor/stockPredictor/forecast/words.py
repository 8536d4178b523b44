"""A forecast in plain words: what is forecast, the band in prices, and how far to trust it.

``summary(document)`` reads a report's document (``Report.to_dict()`` without its summary) and
writes the few sentences a person reads beside the chart. Each is a sentence or None:

- ``headline``: what is forecast for the horizon's day, and the band on that day in prices;
- ``trust``: how the model did against "no change" at this horizon, in words (the p-value's
  number lives in the track record, for the details);
- ``coverage``: how often the actual close stayed inside the band on the same past days;
- ``days``: which days are "no change" and which carry the model's own move, and why, when a
  forecast mixes the two;
- ``outcome``: what happened, for a forecast from a past date whose closes are known;
- ``warning``: a model trained on other tickers alone.

The page, the API, the JSON download and the CLI all print these same sentences.
"""

from __future__ import annotations

from ..rounding import price_text
from .bands import MIN_CALIBRATION
from .track_record import MIN_FORECASTS, SIGNIFICANCE

NO_CHANGE = "“no change”"
# Why a step serves the last close: the point policy's rule, in words.
NOT_BEATEN = f"did not beat {NO_CHANGE} convincingly on years it was not trained on"
# Why a step has no band (bands.has_band): its rule, in words.
NO_BAND_WHY = (f"fewer than {MIN_CALIBRATION} past forecasts that many days ahead could be "
               "checked before the forecast date, too few to calibrate one")


def p_words(p: float | None) -> str | None:
    """A p-value in words: whether a difference this large could be chance."""
    if p is None:
        return None
    return "unlikely to be chance" if p < SIGNIFICANCE else "could easily be chance"


def percent(value: float, sign: bool = False) -> str:
    """A percentage with one decimal: 12.3%, +1.0%."""
    return f"{value:{'+' if sign else ''}.1f}%"


def ranges(steps: list[int]) -> str:
    """Ascending steps as runs in words: [1, 2, 3, 7] -> "1–3 and 7"; [] -> "none"."""
    runs: list[list[int]] = []
    for step in steps:
        if runs and step == runs[-1][1] + 1:
            runs[-1][1] = step
        else:
            runs.append([step, step])
    parts = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs]
    if not parts:
        return "none"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def day_ranges(steps: list[int]) -> str:
    """Steps as ranges in words: [1, 2, 3, 7] -> "days 1–3 and 7", [4] -> "day 4"."""
    return ("day " if len(steps) == 1 else "days ") + ranges(steps)


def no_band(steps: list[int]) -> str | None:
    """Which forecast days have no band, and why: "Days 11–20 have no band: fewer than ..."."""
    if not steps:
        return None
    verb = "has" if len(steps) == 1 else "have"
    return f"{day_ranges(steps).capitalize()} {verb} no band: {NO_BAND_WHY}."


def summary(document: dict, weights: list[float]) -> dict:
    """The sentences beside the chart; ``weights`` are the model's per-step policy weights
    (0 serves the last close, 1 the network's own forecast)."""
    h = document["horizon"]
    weights = [float(w) for w in weights[:h]] + [1.0] * max(0, h - len(weights))
    return {"headline": _headline(document, weights), "trust": _trust(document, weights),
            "coverage": _coverage(document), "days": _days(weights),
            "outcome": _outcome(document), "warning": _warning(document)}


def _headline(document: dict, weights: list[float]) -> str:
    h, ticker = document["horizon"], document["ticker"]
    last, as_of = price_text(document["last_close"]), document["as_of"]
    rows = document["forecast"]
    days = "trading day" if h == 1 else f"{h} trading days"
    if not any(weights):
        sentence = (f"{ticker}: no change expected over the next {days}; the forecast is the "
                    f"close of {last} on {as_of}.")
    else:
        end = rows[-1]
        move = (end["close"] / document["last_close"] - 1) * 100
        sentence = (f"{ticker}: {price_text(end['close'])} expected on {end['date']}, {days} "
                    f"ahead ({percent(move, sign=True)} from the close of {last} on {as_of}).")
    if document["level"] is not None and rows[-1].get("low") is not None:
        sentence += (f" The {document['level']:.0%} band on {rows[-1]['date']} runs from "
                     f"{price_text(rows[-1]['low'])} to {price_text(rows[-1]['high'])}.")
    return sentence


def _span(record: dict) -> str:
    # Days of the series' own calendar: a year of an exchange's, some eight months of a coin's.
    return f"over the last {record['origins']:,} trading days"


def _could(p: float) -> str:
    # p_words as the end of a sentence about a gap.
    return f"is {p_words(p)}" if p < SIGNIFICANCE else p_words(p)


def _trust(document: dict, weights: list[float]) -> str:
    record, h = document["track_record"], document["horizon"]
    ahead = "1 day" if h == 1 else f"{h} days"
    if weights[h - 1] == 0.0:
        return (f"At {ahead} ahead the model's own forecast {NOT_BEATEN}, so the forecast is "
                "the last close.")
    if not record.get("available"):
        return ("There is no track record to judge it by: too few prices come before "
                f"{document['as_of']} to score past forecasts.")
    n = record["origins"]
    if n < MIN_FORECASTS:
        return (f"Too few past forecasts to judge it: {n}, where at least {MIN_FORECASTS} "
                "are needed.")
    ratio = record["mae_vs_naive"][h - 1]
    p = (record.get("p_value_vs_naive") or [None] * h)[h - 1]
    if ratio is None or p is None:
        return "There was nothing to compare it with."
    gap = percent(abs(1.0 - ratio) * 100)
    span = _span(record)
    way = "less" if ratio < 1 else "more"
    sentence = (f"{span.capitalize()}, its forecasts {ahead} ahead missed the close by {gap} "
                f"{way} than {NO_CHANGE} did: a gap that {_could(p)}.")
    inside = record.get("origins_in_training") or 0
    if inside:
        sentence += (f" {inside:,} of those days were part of its training, which flatters "
                     "it.")
    return sentence


def _coverage(document: dict) -> str | None:
    record, h, level = document["track_record"], document["horizon"], document["level"]
    if level is None or not record.get("available"):
        return None
    # Coverage reads the origins with a band at every step: fewer than all on a short series.
    banded = record.get("banded_origins", record["origins"])
    share = (record.get("coverage") or [None] * h)[h - 1]
    if share is None or banded < MIN_FORECASTS:
        return None
    ahead = "the next day's close" if h == 1 else f"the close {h} days ahead"
    span = _span(record) if banded == record["origins"] else (
        f"on the {banded:,} of the last {record['origins']:,} trading days with a band at "
        f"every step")
    return (f"{span[0].upper()}{span[1:]}, {ahead} fell inside the {level:.0%} band "
            f"{percent(share * 100)} of the time, against the {level:.0%} it aims for.")


def _days(weights: list[float]) -> str | None:
    still = [step for step, w in enumerate(weights, 1) if w == 0.0]
    moved = [step for step, w in enumerate(weights, 1) if w > 0.0]
    if not still or not moved:
        return None
    share = "all" if all(weights[step - 1] >= 1.0 for step in moved) else "part"
    one, other = len(still) == 1, len(moved) == 1
    return (f"{day_ranges(still).capitalize()} {'is' if one else 'are'} the last close: at "
            f"{'that horizon' if one else 'those horizons'} the model's own move {NOT_BEATEN}. "
            f"{day_ranges(moved).capitalize()} {'adds' if other else 'add'} {share} of its move, "
            f"which did a little better than {NO_CHANGE} on those years.")


def _outcome(document: dict) -> str | None:
    outcome = document.get("outcome")
    if not outcome:
        return None
    days = outcome["days"]
    plural = "s" if days != 1 else ""
    last = document["last_close"]
    bias = price_text(abs(outcome["mean_error"]), like=last)
    if float(bias.replace(",", "")) == 0:
        balance = "neither above nor below the close on balance"
    else:
        balance = f"{bias} {'above' if outcome['mean_error'] > 0 else 'below'} the close on balance"
    sentence = (f"What happened: on the {days} day{plural} whose close is known, the forecast "
                f"was off by {price_text(outcome['mean_absolute_error'], like=last)} on average "
                f"({percent(outcome['mean_absolute_percent'])} of the price), and {balance}")
    if outcome["inside"] is not None:
        sentence += (f"; {outcome['inside']} of {days} close{plural} fell inside the "
                     f"{outcome['level']:.0%} band")
    return sentence + "."


def trained_elsewhere(ticker: str, model_info: dict) -> str | None:
    """A warning when the model (its summary) was trained on other tickers alone, else None."""
    tickers = [t.upper() for t in model_info.get("tickers") or []]
    if model_info.get("scope") != "ticker" or ticker.upper() in tickers:
        return None
    trained = ", ".join(tickers) or "other prices"
    return (f"This model was trained on {trained} alone, not on {ticker}: its track record on "
            f"{ticker} is what to judge it by.")


def _warning(document: dict) -> str | None:
    return trained_elsewhere(document["ticker"], document["model_info"])
