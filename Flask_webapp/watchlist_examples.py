"""Example requests and answers of the watchlists' API, for the OpenAPI document (issue 22).

A list of three tickers: IBM forecast, MSFT still computing (its summary is being made by the
cold job), XYZ unknown. Tokens and times are an example's. tests/webapp/test_api_docs.py checks
each against its schema; tests/webapp/test_watchlists_api.py checks the app answers in this shape.
"""

from __future__ import annotations

TOKEN = "q1zS0mJw8fYk3TbR5uXn2cVa7pLd4HgE9oKi6WyZ0rA"
PATH = f"/api/v1/watchlists/{TOKEN}"
WATCHLIST_REQUEST = {"name": "Tech", "tickers": ["IBM", "MSFT", "XYZ"]}
WATCHLIST_REQUESTS = {
    "three": {"summary": "a named list of three tickers", "value": WATCHLIST_REQUEST},
    "unnamed": {"summary": "no name: it is called \"Watchlist\"",
                "value": {"tickers": ["AAPL", "BRK-B", "^GSPC"]}}}
WATCHLIST = {"token": TOKEN, "name": "Tech", "tickers": ["IBM", "MSFT", "XYZ"],
             "created_at": "2026-11-23T10:00:00+00:00",
             "updated_at": "2026-11-23T10:00:00+00:00",
             "url": f"/watchlists/{TOKEN}", "rows_url": f"{PATH}/rows"}
REPLACED = {**WATCHLIST, "name": "Tech and banks", "tickers": ["IBM", "MSFT", "JPM"],
            "updated_at": "2026-11-23T11:30:00+00:00"}
SPARKLINE = [round(130 + 0.1 * i + (i % 7) * 0.3, 2) for i in range(60)]
_EMPTY_ROW = {"name": None, "model": None, "as_of": None, "last_close": None, "last_date": None,
              "day_change_pct": None, "sparkline": None, "forecast_close": None,
              "change_pct": None, "low_pct": None, "high_pct": None, "level": None,
              "beats_naive": None, "verdict": None, "p_value": None, "mae_ratio": None,
              "origins": None, "source": None, "stale": None, "age_days": None,
              "freshness": None}
IBM_ROW = {
    "ticker": "IBM", "status": "ok", "reason": None, "name": "International Business Machines",
    "model": "ibm", "as_of": "2026-11-20", "last_close": 137.81, "last_date": "2026-11-20",
    "day_change_pct": 0.42, "sparkline": SPARKLINE, "forecast_close": 137.95,
    "change_pct": 0.1, "low_pct": -2.87, "high_pct": 3.11, "level": 0.8,
    "beats_naive": "no difference",
    "verdict": "At 4 trading days its forecasts were no measurably better than no change "
               "(p = 0.41 over 250 origins).",
    "p_value": 0.41, "mae_ratio": 1.004, "origins": 250, "source": "yahoo", "stale": False,
    "age_days": 1, "freshness": None}
MSFT_ROW = {**_EMPTY_ROW, "ticker": "MSFT", "status": "computing",
            "reason": "its forecast is being computed; this row fills in by itself",
            "last_close": 412.3, "last_date": "2026-11-20", "day_change_pct": -0.35,
            "sparkline": SPARKLINE, "source": "yahoo", "stale": False, "age_days": 1}
XYZ_ROW = {**_EMPTY_ROW, "ticker": "XYZ", "status": "error",
           "reason": "ticker 'XYZ' is unknown to Yahoo Finance"}
WATCH_TABLE = {"token": TOKEN, "name": "Tech", "horizon": 4, "level": 0.8, "pending": 1,
               "refreshing": False, "rows": [IBM_ROW, MSFT_ROW, XYZ_ROW]}
QUEUED = {"queued": True}
ERRORS = {
    400: {"error": "bad_request", "message": "the body is not valid JSON (expecting value at "
          "line 1, column 1); send a JSON object such as {\"name\": \"Tech\", \"tickers\": "
          "[\"IBM\"]}"},
    404: {"error": "unknown_watchlist", "message": f"no watchlist has the token '{TOKEN}': it "
          "was never made, was deleted, or went unread too long"},
    413: {"error": "too_many_tickers", "message": "a watchlist holds at most 70 tickers "
          "through the API; this one has 612"},
    415: {"error": "unsupported_media_type", "message": "Content-Type: 'text/plain' is not "
          "accepted; send application/json"},
    422: {"error": "name_too_long", "message": "a watchlist's name holds at most 80 "
          "characters; this one has 95"},
    429: {"error": "too_many_watchlists", "message": "you made 20 watchlists in the last 24 "
          "hours, the most a client may (WATCHLISTS_PER_DAY=20); add to one of them, or try "
          "again in 3 hours"},
    503: {"error": "database_unavailable", "message": "watchlists is unavailable because the "
          "database is down; forecasts are still served"},
}
BAD_TICKER = {"error": "invalid_input", "message": "ticker 'NOT A TICKER' is not valid: "
              "expected 1 to 15 letters, digits, '.', '-', '^' or '=' (pattern "
              "^[A-Za-z0-9.\\-^=]{1,15}$)"}
REFRESH_TOO_SOON = {"error": "refresh_too_soon", "message": "this watchlist's prices were "
                    "refreshed less than 300 seconds ago (WATCHLIST_REFRESH_S=300); try again "
                    "in 240 seconds"}
DESCRIPTION = (
    "A watchlist is a named list of tickers reached through its secret token: whoever holds it "
    "may read, change and delete the list; nothing lists tokens. Tickers are upper-cased and "
    "kept once, in the order given. Bounds, each refused naming it: at most "
    "WATCHLIST_API_TICKERS (70) tickers through the API (413 too_many_tickers), a name of at "
    "most WATCHLIST_NAME_CHARS (80) characters (422 name_too_long), at most WATCHLISTS_PER_DAY "
    "(20) new lists per client in any 24 hours (429 too_many_watchlists, Retry-After).")
