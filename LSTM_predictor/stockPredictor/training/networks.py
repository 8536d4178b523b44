"""Keras builders for the forecasting networks (training only; serving uses ``runtime``).

Every layer here is a built-in Keras layer that ``runtime.py`` knows how to run in NumPy,
so adding a layer type means teaching ``model/runtime.py`` about it too.
"""

from __future__ import annotations

import keras

from ..model.config import ModelConfig


def build_model(config: ModelConfig, n_features: int) -> keras.Model:
    """Build the uncompiled network that ``config.arch`` names."""
    builders = {"lstm": build_lstm, "attention": build_attention}
    return builders[config.arch](config, n_features)


def _forecast_head(config: ModelConfig) -> keras.layers.Dense:
    # Zero-initialised, so an untrained network forecasts no change at every step and each
    # step's output moves only as far as training pushes it. With Keras' default random
    # kernel, a model early stopping restores after an epoch or two still serves the random
    # projection its head started from: the old IBM model's step 20 read ~0 because its
    # initial column happened to be near-orthogonal to the hidden state, not because of data.
    return keras.layers.Dense(config.output_steps, kernel_initializer="zeros", name="forecast")


def build_lstm(config: ModelConfig, n_features: int) -> keras.Model:
    """Stacked LSTM: the last layer's final state feeds a linear multi-step head."""
    inputs = keras.Input(shape=(config.window, n_features), name="window")
    x = inputs
    for i in range(config.layers):
        last = i == config.layers - 1
        x = keras.layers.LSTM(config.units, return_sequences=not last, name=f"lstm_{i + 1}")(x)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{i + 1}")(x)
    outputs = _forecast_head(config)(x)
    return keras.Model(inputs, outputs, name="stacked_lstm")


def build_attention(config: ModelConfig, n_features: int) -> keras.Model:
    """LSTM with additive (Bahdanau) attention of the last hidden state over all of them."""
    inputs = keras.Input(shape=(config.window, n_features), name="window")
    hidden = inputs
    for i in range(config.layers):
        hidden = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i + 1}")(
            hidden
        )
        hidden = keras.layers.Dropout(config.dropout, name=f"dropout_{i + 1}")(hidden)
    # Cropping instead of a Lambda slice: Lambda layers hold Python code and do not
    # round-trip through the .h5 file (nor can runtime.py execute them).
    last_hidden = keras.layers.Cropping1D((config.window - 1, 0), name="last_hidden")(hidden)
    query = keras.layers.Dense(config.units, name="query")(last_hidden)
    keys = keras.layers.Dense(config.units, name="keys")(hidden)
    context = keras.layers.AdditiveAttention(use_scale=True, name="attention")(
        [query, hidden, keys]
    )
    x = keras.layers.Concatenate(axis=-1, name="context_and_last")([context, last_hidden])
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout_head")(x)
    outputs = _forecast_head(config)(x)
    return keras.Model(inputs, outputs, name="attention_lstm")
