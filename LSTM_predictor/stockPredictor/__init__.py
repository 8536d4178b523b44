"""stockPredictor: LSTM forecasts of daily prices, trained with Keras, served with NumPy.

The package is a house in layers, each importing only the ones below it (the import-linter
contracts in .importlinter say so): ``data`` (prices from every source as one frame), ``model``
(artifacts, the NumPy runtime, the registry, the point policy), ``forecast`` (tables, bands, the
track record, backtests, and the report that holds the whole answer), then ``training`` (Keras)
and ``store`` (the database) side by side, and ``cli`` on top. ``errors``, ``settings``,
``lru`` and ``rounding`` lie under them all. Importing the package never imports TensorFlow;
only ``stockPredictor.training`` does.
"""

from .data.calendar import next_trading_days
from .data.csv import read_csv
from .data.sources import load as load_prices
from .data.synthetic import synthetic
from .errors import (ArtifactError, DatabaseUnavailableError, DataError, NotTrainedError,
                     SettingError, SourceUnavailableError, StockPredictorError,
                     UnknownTickerError)
from .forecast.evaluate import Backtest, backtest
from .forecast.predict import Forecast, forecast
from .forecast.report import Report
from .forecast.report import build as build_report
from .model.artifacts import Artifact
from .model.artifacts import load as load_artifact
from .model.config import ModelConfig, TrainConfig
from .model.registry import Registry
from .model.runtime import RuntimeModel
from .model.runtime import load_model as load_runtime_model
from .model.windowing import Windowing, time_split
from .settings import Settings

__all__ = [
    "Artifact",
    "ArtifactError",
    "Backtest",
    "DataError",
    "DatabaseUnavailableError",
    "Forecast",
    "ModelConfig",
    "NotTrainedError",
    "Registry",
    "Report",
    "RuntimeModel",
    "SettingError",
    "Settings",
    "SourceUnavailableError",
    "StockPredictorError",
    "TrainConfig",
    "UnknownTickerError",
    "Windowing",
    "backtest",
    "build_report",
    "forecast",
    "load_artifact",
    "load_prices",
    "load_runtime_model",
    "next_trading_days",
    "read_csv",
    "synthetic",
    "time_split",
]
