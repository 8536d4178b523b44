"""What a ledger forecast's known closes say, and whether its other days will ever be scored.

Read from a forecast as ``ledger.listing`` gives it: the ledger page's error columns, beside
"scored k of n". The API's listing gives the rows themselves; this is their summary.
"""

from __future__ import annotations

import numpy as np

from ..forecast import metrics

# The prices that move: forecasts made on Yahoo's closes are scored as the closes they were for
# arrive (the price store calls ledger.score). The ledger records live forecasts only, all made
# on Yahoo's closes; a forecast on fixed data (the sample, an upload) is never scored, as a day
# such data lacks never comes.
WAITING_SOURCES = frozenset({"yahoo"})


def waits(item: dict) -> bool:
    """Whether the ledger forecast ``item``'s unscored days will be scored as closes arrive."""
    return item.get("source") in WAITING_SOURCES


def outcome(item: dict) -> dict:
    """The scored days of the ledger forecast ``item``, summed up.

    ``days`` and ``scored`` (days with a known close), ``pending`` (the others) and ``waits``
    (whether they will ever be scored); over the scored days, the mean absolute error of the
    forecast and of no change (the last close before it), in price and in percent of the
    actual close (None with nothing scored); ``inside`` of ``banded`` days fell inside the band.
    ``price`` is the forecast's first close: the price whose decimals its errors are shown in.
    """
    rows = item["forecast"]
    known = [row for row in rows if row["actual"] is not None]
    banded = [row for row in known if row["inside"] is not None]
    result = {"days": len(rows), "scored": len(known), "pending": len(rows) - len(known),
              "waits": waits(item), "mae": None, "mae_pct": None, "naive_mae": None,
              "naive_pct": None, "inside": sum(bool(row["inside"]) for row in banded),
              "banded": len(banded), "price": rows[0]["close"] if rows else None}
    if known:
        # The metrics' (origins, steps) shape with each scored day a row of one step: their mean
        # over the rows is the mean over the days. No change is the last close, which is the
        # actual plus no change's error (last close minus actual).
        actual = np.array([[row["actual"] for row in known]], dtype=np.float64).T
        close = np.array([[row["close"] for row in known]], dtype=np.float64).T
        naive = actual + np.array([[row["naive_error"] for row in known]], dtype=np.float64).T
        result.update(mae=_first(metrics.mae(actual, close)),
                      mae_pct=_first(metrics.mape(actual, close)),
                      naive_mae=_first(metrics.mae(actual, naive)),
                      naive_pct=_first(metrics.mape(actual, naive)))
    return result


def _first(values: np.ndarray) -> float | None:
    value = float(values[0])
    return None if np.isnan(value) else value
