"""The API's schemas: what a request may hold (requests.py) and what an answer holds
(answers.py). They validate the input and write the OpenAPI document."""

from .answers import (BandPoint, ClosePoint, DatabaseHealth, Error, ForecastResult, Freshness,
                      Health, History, LedgerEntry, LedgerList, LedgerRow, ModelList, ModelSummary,
                      Outcome, PastForecast, PolicySummary, PriceRow, StockInfo, TrackRecord)
from .jobs import (Deleted, Job, JobLinks, JobProgress, JobRequest, JobResult, JobSettings,
                   TokenPath, TrainedModel, WorkerState)
from .requests import (BandLevel, Day, ForecastOptions, ForecastRequest, ForecastUpload,
                       HistoryQuery, LedgerQuery, TickerPath, WholeNumber, form_fields)
from .watchlists import (Queued, RowsQuery, Watchlist, WatchlistPath, WatchlistRequest, WatchRow,
                         WatchTable)

__all__ = ["BandLevel", "BandPoint", "ClosePoint", "DatabaseHealth", "Day", "Deleted", "Error",
           "ForecastOptions", "ForecastRequest", "ForecastResult", "ForecastUpload", "Freshness",
           "Health", "History", "HistoryQuery", "Job", "JobLinks", "JobProgress", "JobRequest",
           "JobResult", "JobSettings", "LedgerEntry", "LedgerList", "LedgerQuery", "LedgerRow",
           "ModelList", "ModelSummary", "Outcome", "PastForecast", "PolicySummary", "PriceRow",
           "StockInfo", "TickerPath", "TokenPath", "TrackRecord", "TrainedModel", "WholeNumber",
           "WorkerState", "form_fields", "Queued", "RowsQuery", "Watchlist", "WatchlistPath",
           "WatchlistRequest", "WatchRow", "WatchTable"]
