"""stockPredictor: LSTM forecasts of daily prices, trained with Keras, served with NumPy.

Importing the package never imports TensorFlow; only ``stockPredictor.train``
and ``stockPredictor.models`` do.
"""

from .artifacts import Artifact
from .artifacts import load as load_artifact
from .config import ModelConfig, TrainConfig
from .data_generator import Windowing, time_split
from .evaluate import Backtest, backtest
from .errors import (ArtifactError, DataError, NotTrainedError, SourceUnavailableError,
                     StockPredictorError, UnknownTickerError)
from .predict import Forecast, forecast
from .preload import Registry
from .prices import load as load_prices
from .prices import read_csv, synthetic
from .runtime import RuntimeModel
from .runtime import load_model as load_runtime_model
from .trading_calendar import next_trading_days

__all__ = [
    "Artifact",
    "ArtifactError",
    "Backtest",
    "DataError",
    "Forecast",
    "ModelConfig",
    "NotTrainedError",
    "Registry",
    "RuntimeModel",
    "SourceUnavailableError",
    "StockPredictorError",
    "TrainConfig",
    "UnknownTickerError",
    "Windowing",
    "backtest",
    "forecast",
    "load_artifact",
    "load_prices",
    "load_runtime_model",
    "next_trading_days",
    "read_csv",
    "synthetic",
    "time_split",
]
