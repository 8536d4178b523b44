"""Example requests and answers for the OpenAPI document, so the API docs show real calls.

Every answer here is what the app said to its request on the bundled sample (IBM's prices end on
2013-03-01), cut short where it is long: two forecast days, two days of history, and the first
two of a track record's 250 past forecasts. Only ``fetched_at`` and ``age_days`` change from run
to run. tests/webapp/test_api_docs.py checks each example against its schema and against the
app's own answer, so a field added to a schema, or an answer that changes, is caught there and
must be brought here.
"""

from __future__ import annotations

SAMPLE_NOTICE = "These are the bundled sample prices, which end on 2013-03-01: not current prices."
# How the sample's prices are dated and described in every answer that carries them.
SAMPLE_DATA = {"source": "sample", "source_label": "Bundled sample (Quandl WIKI, to 2013)",
               "fetched_at": "2026-11-23T09:02:56+00:00", "first_date": "2000-03-01",
               "last_date": "2013-03-01", "age_days": 5015, "stale": False, "file_name": None,
               "notice": SAMPLE_NOTICE, "notices": [SAMPLE_NOTICE]}
# Both models' policies were fitted on the same validation folds (the earliest from 2001-04-06).
POLICY = {"method": "constant-shrinkage", "fitted_on": "validation folds", "start": "2001-04-06"}
IBM_MODEL = {
    "name": "ibm", "scope": "ticker", "arch": "lstm", "target": "log_return", "window": 20,
    "tickers": ["IBM"], "trained_from": "2000-03-01", "trained_to": "2011-03-18",
    "data_to": "2013-03-01",
    "policy": {**POLICY, "end": "2011-02-03", "served_steps": 0},
    "network_test_mae_vs_naive": [
        1.0, 1.0005, 1.0004, 1.0004, 1.0008, 1.0011, 1.0013, 1.0013, 1.0016, 1.0011, 1.0015,
        1.0015, 1.001, 1.0009, 1.0006, 1.0006, 1.0005, 1.0002, 0.9999, 0.9997, 0.9995, 0.999,
        0.999, 0.9989, 0.9991, 0.9992, 0.9989, 0.9986, 0.9983, 0.9983]}
GENERAL_MODEL = {
    "name": "general", "scope": "general", "arch": "lstm", "target": "log_return", "window": 60,
    "tickers": ["AAPL", "FB", "GOOG", "IBM", "MSFT"], "trained_from": "2000-03-01",
    "trained_to": "2013-01-17", "data_to": "2013-03-01",
    "policy": {**POLICY, "end": "2011-10-04", "served_steps": 30},
    "network_test_mae_vs_naive": [
        1.0004, 0.9941, 0.9935, 0.9927, 0.9851, 0.9799, 0.9814, 0.9783, 0.9801, 0.9758, 0.9687,
        0.9691, 0.965, 0.9676, 0.9699, 0.9706, 0.9683, 0.9712, 0.9713, 0.9726, 0.9716, 0.9707,
        0.969, 0.9713, 0.9744, 0.9756, 0.9716, 0.973, 0.9744, 0.9733]}
NO_CHANGE_VERDICT = ("2 days ahead this model serves the no-change forecast: on its validation "
                     "data its own forecast did not beat no change convincingly.")

# A worker's ledger writer as it starts: nothing written yet, nothing waiting or lost.
LEDGER_HEALTH = {"status": "ok", "queued": 0, "dropped": 0, "last_write": None,
                 "failing_since": None}
HEALTH = {"status": "ok", "models": ["general", "ibm"], "price_source": "sample",
          "database": {"status": "ok"}, "ledger": LEDGER_HEALTH}
HEALTH_UNAVAILABLE = {"status": "unavailable", "models": [], "price_source": "sample",
                      "database": {"status": "ok"}, "ledger": LEDGER_HEALTH,
                      "reason": "no model is loaded, so no forecast can be served; train one "
                                "with `stock-predictor train`"}
DISK_FULL = "the database refuses writes: disk full"
HEALTH_DISK_FULL = {
    "status": "degraded", "models": ["general", "ibm"], "price_source": "sample",
    "database": {"status": "ok"},
    "ledger": {"status": "failing", "queued": 3, "dropped": 0,
               "last_write": "2025-01-06T14:30:02+00:00",
               "failing_since": "2025-01-06T14:30:04+00:00", "reason": DISK_FULL},
    "reason": f"forecasts are served but not recorded: {DISK_FULL}"}
NO_ANSWER = "the database does not answer: connection refused"
HEALTH_DATABASE_DOWN = {
    "status": "degraded", "models": ["general", "ibm"], "price_source": "sample",
    "database": {"status": "down", "reason": NO_ANSWER},
    "ledger": {"status": "failing", "queued": 40, "dropped": 0,
               "last_write": "2025-01-06T14:30:02+00:00",
               "failing_since": "2025-01-06T14:30:04+00:00", "reason": NO_ANSWER},
    "reason": f"forecasts are served but not recorded: {NO_ANSWER}"}
HEALTH_503 = {
    "no-model": {"summary": "no model is loaded", "value": HEALTH_UNAVAILABLE},
    "disk-full": {"summary": "the database refuses the ledger's writes (a full disk)",
                  "value": HEALTH_DISK_FULL},
    "database-down": {"summary": "the database does not answer", "value": HEALTH_DATABASE_DOWN}}
MODELS = {"models": [GENERAL_MODEL, IBM_MODEL], "trained": []}
STOCK = {
    "ticker": "IBM", "name": "International Business Machines Corporation", **SAMPLE_DATA,
    "rows": 3270, "last_close": 175.2712, "change": 1.79668, "change_pct": 1.04,
    "low_52w": 155.0637, "high_52w": 181.3649}
HISTORY_PATH = "/api/v1/stocks/IBM/history?start=2013-02-27&end=2013-03-01"
HISTORY = {"ticker": "IBM", "source": "sample", "prices": [
    {"date": "2013-02-27", "open": 171.7988, "high": 175.133, "low": 171.5483, "close": 174.7702,
     "volume": 4185100.0},
    {"date": "2013-02-28", "open": 174.6406, "high": 175.4552, "low": 173.44, "close": 173.4745,
     "volume": 4689200.0}]}

FORECAST_REQUEST = {"ticker": "IBM", "horizon": 2}
NEXT_DAYS = ("2013-03-04", "2013-03-05")


def rows(days, **columns) -> list[dict]:
    """Dated rows from parallel columns: rows(days, close=[...]) is [{"date", "close"}, ...]."""
    return [{"date": day, **{name: values[i] for name, values in columns.items()}}
            for i, day in enumerate(days)]


# The ibm model serves no change at every step (its validation never convincingly beat it):
# its record against no change is 1 and p = 1 at each, and a direction is never scored.
NO_CHANGE = {"policy_weights": [0.0] * 30, "mae_vs_naive": [1.0] * 30,
             "p_value_vs_naive": [1.0] * 30, "directional_accuracy": [None] * 30}
NO_CHANGE_TRUST = ("At 2 days ahead the model's own forecast did not beat “no change” "
                   "convincingly on years it was not trained on, so the forecast is the last "
                   "close.")


def summary(headline: str, trust: str = NO_CHANGE_TRUST, coverage: str | None = None,
            outcome: str | None = None) -> dict:
    """An answer's plain-words summary (stockPredictor.forecast.words)."""
    return {"headline": headline, "trust": trust, "coverage": coverage, "days": None,
            "outcome": outcome, "warning": None}


FORECAST = {
    "ticker": "IBM", "model": "ibm", "as_of": "2013-03-01", "source": "sample",
    "last_close": 175.2712, "horizon": 2, "level": 0.8,
    "forecast": rows(NEXT_DAYS, close=[175.2712] * 2, low=[173.2962, 172.3756],
                     high=[177.2687, 178.2154]),
    "bands": {"0.5": rows(NEXT_DAYS, low=[174.3629, 173.7616], high=[176.1842, 176.7939]),
              "0.8": rows(NEXT_DAYS, low=[173.2962, 172.3756], high=[177.2687, 178.2154]),
              "0.95": rows(NEXT_DAYS, low=[171.2791, 170.0617], high=[179.3563, 180.6402])},
    "actual": None, "outcome": None,
    "baselines": {"naive": rows(NEXT_DAYS, close=[175.2712] * 2),
                  "long_run_drift": rows(NEXT_DAYS, close=[175.3177, 175.3642])},
    "track_record": {
        "available": True, "origins": 250, "steps": 30, "horizon": 2, "start": "2012-01-19",
        "end": "2013-01-16", "level": 0.8, "banded_origins": 250, "origins_in_training": 0,
        **NO_CHANGE,
        "coverage": [0.832, 0.824, 0.828, 0.84, 0.86, 0.848, 0.832, 0.844, 0.832, 0.824, 0.812,
                     0.804, 0.788, 0.788, 0.776, 0.768, 0.78, 0.8, 0.772, 0.78, 0.792, 0.796,
                     0.792, 0.804, 0.788, 0.804, 0.796, 0.816, 0.808, 0.828],
        "verdict": NO_CHANGE_VERDICT,
        "past": rows(("2012-01-23", "2012-01-24"), forecast=[152.6895, 159.4561],
                     actual=[160.691, 162.3404], last_close=[152.6895, 159.4561])},
    "model_info": IBM_MODEL, "data": SAMPLE_DATA, "notices": [SAMPLE_NOTICE], "kind": "replay",
    "summary": summary(
        "IBM: no change expected over the next 2 trading days; the forecast is the close of "
        "175.27 on 2013-03-01. The 80% band on 2013-03-05 runs from 172.38 to 178.22.",
        coverage="Over the last 250 trading days, the close 2 days ahead fell inside the 80% band "
        "82.4% of the time, against the 80% it aims for."),
    "url": None}
PAST_REQUEST = {"ticker": "IBM", "horizon": 2, "as_of": "2013-02-26", "level": 0.8}
PAST_DAYS = ("2013-02-27", "2013-02-28")
PAST_FORECAST = {
    **FORECAST, "as_of": "2013-02-26", "last_close": 172.0147,
    "forecast": rows(PAST_DAYS, close=[172.0147] * 2, low=[170.1076, 169.2225],
                     high=[173.9432, 174.8529]),
    "bands": {"0.5": rows(PAST_DAYS, low=[171.1506, 170.5504], high=[172.8832, 173.4916]),
              "0.8": rows(PAST_DAYS, low=[170.1076, 169.2225], high=[173.9432, 174.8529]),
              "0.95": rows(PAST_DAYS, low=[168.1328, 166.9427], high=[175.9862, 177.2408])},
    "actual": rows(PAST_DAYS, close=[174.7702, 173.4745]),
    "outcome": {"days": 2, "mean_error": -2.10764, "mean_absolute_error": 2.10764,
                "mean_absolute_percent": 1.21, "level": 0.8, "inside": 1},
    "baselines": {"naive": rows(PAST_DAYS, close=[172.0147] * 2),
                  "long_run_drift": rows(PAST_DAYS, close=[172.0594, 172.1041])},
    "track_record": {
        **FORECAST["track_record"], "start": "2012-01-13", "end": "2013-01-11",
        "coverage": [0.832, 0.82, 0.82, 0.832, 0.856, 0.848, 0.832, 0.844, 0.832, 0.824, 0.812,
                     0.804, 0.788, 0.788, 0.772, 0.768, 0.776, 0.8, 0.768, 0.776, 0.796, 0.8,
                     0.788, 0.804, 0.784, 0.796, 0.784, 0.808, 0.804, 0.832],
        "past": rows(("2012-01-18", "2012-01-19"), forecast=[151.5391, 152.2496],
                     actual=[153.1547, 152.6895], last_close=[151.5391, 152.2496])},
    "summary": summary(
        "IBM: no change expected over the next 2 trading days; the forecast is the close of "
        "172.01 on 2013-02-26. The 80% band on 2013-02-28 runs from 169.22 to 174.85.",
        coverage="Over the last 250 trading days, the close 2 days ahead fell inside the 80% band "
        "82.0% of the time, against the 80% it aims for.",
        outcome="What happened: on the 2 days whose close is known, the forecast was off by "
        "2.11 on average (1.2% of the price), and 2.11 below the close on balance; 1 of 2 "
        "closes fell inside the 80% band.")}

# The last 21 days of the sample's IBM prices as Yahoo exports them: the fewest rows the ibm model
# (a window of 20 daily returns) forecasts from, too few for a track record.
UPLOAD_CSV = """\
Date,Open,High,Low,Close,Adj Close,Volume
2013-01-31,174.89,175.87,174.58,174.67,174.67,3091400
2013-02-01,176.03,176.63,175.33,176.49,176.49,3370700
2013-02-04,175.63,176.35,175.10,175.29,175.29,3188800
2013-02-05,175.74,176.12,174.19,174.43,174.43,3636900
2013-02-06,173.09,173.87,172.38,173.64,173.64,3624200
2013-02-07,173.29,173.54,171.62,172.53,172.53,3076700
2013-02-08,172.73,174.56,172.48,174.21,174.21,2893300
2013-02-11,173.60,174.44,172.54,172.90,172.90,2944700
2013-02-12,172.77,173.39,171.91,172.79,172.79,2461800
2013-02-13,173.32,173.58,172.39,172.84,172.84,2169800
2013-02-14,172.52,173.03,172.12,172.46,172.46,3294200
2013-02-15,172.74,173.84,172.60,173.60,173.60,3627800
2013-02-19,173.28,174.39,172.95,173.03,173.03,2998300
2013-02-20,173.29,174.24,171.77,172.16,172.16,3715400
2013-02-21,171.57,171.95,171.13,171.32,171.32,3922900
2013-02-22,172.09,173.70,171.76,173.70,173.70,3107900
2013-02-25,174.20,174.91,170.61,170.61,170.61,3844800
2013-02-26,171.57,172.67,170.89,172.01,172.01,3391600
2013-02-27,171.80,175.13,171.55,174.77,174.77,4185100
2013-02-28,174.64,175.46,173.44,173.47,173.47,4689200
2013-03-01,173.32,175.30,172.20,175.27,175.27,3308300
"""
UPLOAD_REQUEST = {"ticker": "IBM", "horizon": 2, "file": UPLOAD_CSV}
UPLOAD_FORECAST = {
    "ticker": "IBM", "model": "ibm", "as_of": "2013-03-01", "source": "csv", "last_close": 175.27,
    "horizon": 2, "level": None, "forecast": rows(NEXT_DAYS, close=[175.27] * 2), "bands": {},
    "actual": None, "outcome": None,
    "baselines": {"naive": rows(NEXT_DAYS, close=[175.27] * 2),
                  "long_run_drift": rows(NEXT_DAYS, close=[175.3001, 175.3301])},
    "model_info": IBM_MODEL,
    "data": {"source": "csv", "source_label": "Uploaded file",
             "fetched_at": "2026-11-23T09:02:56+00:00", "first_date": "2013-01-31",
             "last_date": "2013-03-01", "age_days": 5015, "stale": False,
             "file_name": "IBM.csv", "notice": None, "notices": []},
    "track_record": {
        "available": False, "reason": "no origin for a 2-day track record before 2013-03-01: "
        "an origin needs 21 rows of prices up to it and 2 trading days after it, and the prices "
        "from 2013-01-31 hold 21 rows"},
    "notices": [], "kind": "replay",
    "summary": summary("IBM: no change expected over the next 2 trading days; the forecast is "
                       "the close of 175.27 on 2013-03-01."),
    # The stored file's forecast page: a permanent address, which outlives a restart.
    "url": "/prediction/upload/1?horizon=2"}

# One error per documented status, each as the app words it.
ERRORS = {
    400: {"error": "bad_request", "message": "the body is not valid JSON (expecting property name "
          "enclosed in double quotes at line 1, column 2); send a JSON object such as "
          '{"ticker": "IBM", "horizon": 4}'},
    403: {"error": "cross_site", "message": "a page at 'https://evil.example' may not call this "
          "API: it answers this site's own pages and clients that send no Origin (curl, "
          "scripts), and an operator opens it to other sites by listing them in the setting "
          "API_ALLOWED_ORIGINS"},
    404: {"error": "unknown_ticker", "message": "Ticker 'XYZ' is not in the bundled sample, "
          "which has AAPL, FB, GOOG, IBM, MSFT. Live prices are off: this server serves only "
          "the bundled sample. To turn them on, set PRICE_SOURCE=auto or yahoo and restart the "
          "server."},
    413: {"error": "payload_too_large",
          "message": "file: the upload is larger than the limit of 5 MB"},
    415: {"error": "unsupported_media_type", "message": "Content-Type: 'text/plain' is not "
          "accepted; send application/json, or multipart/form-data with the CSV as the field "
          "'file'"},
    422: {"error": "invalid_input", "message": "ticker: 'IBM!' is not a ticker: use 1 to 15 "
          "letters, digits or . - ^ = (for example IBM, BRK-B, ^GSPC, BTC-USD)"},
    # The seconds change with the moment the limit was met (tests/webapp/test_limits.py).
    429: {"error": "too_many_requests", "message": "Too many forecasts from your address: the "
          "limit is 60 a minute; try again in 20 s"},
    503: {"error": "source_unavailable",
          "message": "Yahoo Finance is rate limiting requests; no prices of 'TSLA' are stored, "
                     "and Yahoo will be asked again in 300 s"},
}

FORECAST_REQUESTS = {
    "latest": {"summary": "IBM's next 2 trading days", "value": FORECAST_REQUEST},
    "past": {"summary": "IBM as of a past day, with what happened", "value": PAST_REQUEST}}
FORECAST_ANSWERS = {
    "latest": {"summary": "IBM's next 2 trading days", "value": FORECAST},
    "past": {"summary": "IBM as of a past day, with what happened", "value": PAST_FORECAST},
    "upload": {"summary": "an uploaded CSV of 21 days (too few for a track record)",
               "value": UPLOAD_FORECAST}}
# The same two forecasts asked for by GET /forecast/{ticker}, with the options in the query.
FORECAST_GET_PATH = "/api/v1/forecast/IBM?horizon=2"
PAST_GET_PATH = "/api/v1/forecast/IBM?horizon=2&as_of=2013-02-26&level=0.8"
FORECAST_GET_ANSWERS = {name: FORECAST_ANSWERS[name] for name in ("latest", "past")}

# The address the examples name in the document as built (`flask openapi print`, the tests'
# spec object): the development server. Served, the document names the server it was fetched
# from instead (for_server, called per request by api.Api).
SERVER = "http://127.0.0.1:5000"


def curl(path: str, *options: str) -> str:
    """Markdown for an example request: its curl command against SERVER."""
    command = " ".join(["curl", *options, f"'{SERVER}{path}'"])
    return f"Example request:\n\n```sh\n{command}\n```"


def for_server(document: dict, server: str) -> dict:
    """The OpenAPI ``document`` naming ``server`` (such as https://example.com): in its
    ``servers`` and in every example request of its operations' descriptions.

    ``document`` is left as it was: apispec's dict shares its paths with the spec object.
    """
    paths = {}
    for path, item in document.get("paths", {}).items():
        paths[path] = {method: _naming(operation, server) for method, operation in item.items()}
    return {**document, "servers": [{"url": server}], "paths": paths}


def _naming(operation, server: str):
    # Only the curl lines name SERVER, each as the start of a quoted URL.
    if not isinstance(operation, dict) or "description" not in operation:
        return operation
    description = operation["description"].replace(f"'{SERVER}/", f"'{server}/")
    return {**operation, "description": description}


_CSV_LINES = UPLOAD_CSV.splitlines()
FORECAST_DESCRIPTION = "\n\n".join([
    curl("/api/v1/forecast", "-H 'Content-Type: application/json'",
         "-d '{\"ticker\": \"IBM\", \"horizon\": 2}'"),
    "Or upload a CSV of daily prices as multipart/form-data, such as this IBM.csv (the sample's "
    "last 21 days, as Yahoo exports them; its answer is the example \"an uploaded CSV\"):",
    "```\n" + "\n".join([*_CSV_LINES[:3], "...", _CSV_LINES[-1]]) + "\n```",
    "```sh\ncurl -F ticker=IBM -F horizon=2 -F file=@IBM.csv "
    f"'{SERVER}/api/v1/forecast'\n```"])
FORECAST_GET_DESCRIPTION = "\n\n".join([
    curl(FORECAST_GET_PATH),
    "The same answer as `POST /api/v1/forecast` with the JSON body "
    "`{\"ticker\": \"IBM\", \"horizon\": 2}`: the same options (horizon, as_of, level, model), "
    "here in the query, the same report and the same errors. As of a past day, with what "
    "happened after it:",
    curl(PAST_GET_PATH).split("\n\n", 1)[1]])

# A sample forecast is a replay, which the ledger does not record: offline it stays empty.
LEDGER_EMPTY = {"total": 0, "total_capped": False, "forecasts": [], "older": None, "newer": None}
LEDGER_PATH = "/api/v1/forecasts?ticker=IBM&limit=10"
# The ledger after IBM was forecast live once, from Yahoo's close of 2013-03-01 (the sample's
# last 300 days standing in for Yahoo's answer): whatever horizon and level were asked, its one
# entry holds the model's 30 days and the band at every level; here the 80% band (level=0.8).
_LIVE_BANDS = [  # (month-day of 2013, low, high)
    ("03-04", 173.2902, 177.2748), ("03-05", 172.2198, 178.3767), ("03-06", 171.5467, 179.0765),
    ("03-07", 170.6904, 179.9748), ("03-08", 170.1502, 180.5463), ("03-11", 169.7547, 180.9669),
    ("03-12", 169.3949, 181.3513), ("03-13", 169.136, 181.6289), ("03-14", 168.7894, 182.0019),
    ("03-15", 168.6897, 182.1095), ("03-18", 168.242, 182.5941), ("03-19", 167.4324, 183.477),
    ("03-20", 167.3957, 183.5172), ("03-21", 167.1475, 183.7897), ("03-22", 166.6368, 184.3529),
    ("03-25", 166.6388, 184.3507), ("03-26", 166.3319, 184.6909), ("03-27", 166.0339, 185.0224),
    ("03-28", 165.6059, 185.5006), ("04-01", 165.5613, 185.5505), ("04-02", 165.6457, 185.456),
    ("04-03", 165.581, 185.5285), ("04-04", 165.3092, 185.8335), ("04-05", 165.3027, 185.8409),
    ("04-08", 165.4816, 185.6399), ("04-09", 164.9631, 186.2234), ("04-10", 165.1639, 185.997),
    ("04-11", 165.0845, 186.0865), ("04-12", 164.9766, 186.2082), ("04-15", 164.8828, 186.3141)]
LEDGER = {"total": 1, "total_capped": False, "older": None, "newer": None, "forecasts": [{
    "id": 1, "ticker": "IBM", "model": "ibm", "source": "yahoo", "as_of": "2013-03-01",
    "horizon": 30, "level": 0.8, "created_at": "2026-11-23T10:35:02+00:00",
    "forecast": [{"date": f"2013-{day}", "close": 175.2712, "low": low, "high": high,
                  "actual": None, "error": None, "naive_error": None, "inside": None}
                 for day, low, high in _LIVE_BANDS],
    "url": "/prediction/IBM?horizon=30&as_of=2013-03-01&model=ibm"}]}
LEDGER_ANSWERS = {
    "recorded": {"summary": "IBM's live forecast, after it was served once", "value": LEDGER},
    "empty": {"summary": "a ledger with no live forecast yet (offline, it stays so)",
              "value": LEDGER_EMPTY}}
LEDGER_UNAVAILABLE = {
    "error": "database_unavailable", "message": "the forecast ledger is unavailable because the "
    "database is down; forecasts are still served"}
LEDGER_DESCRIPTION = "\n\n".join([
    curl(LEDGER_PATH),
    "Only live forecasts are recorded (made from the latest Yahoo close), one per ticker, model "
    "and day, each with the model's whole path and the band at every level; `level` picks the "
    "band its rows show. A replay (a past as_of, the sample, an upload) is recomputed by "
    "`/api/v1/forecast` whenever asked, and never stored. Newest first, a page at a time: "
    "give an answer's `older` as `before` for the next page, its `newer` as `after` for the "
    "previous one. `total` counts the matches up to 1,000 (`total_capped` says when more "
    "match), so a page costs the same at any depth."])
