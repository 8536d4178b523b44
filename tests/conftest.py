"""Shared fixtures: synthetic prices and a tiny trained artifact (window 5, 1 epoch)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never reach Yahoo: anything that asks for "auto" prices gets the bundled sample.
os.environ["PRICE_SOURCE"] = "sample"

from stockPredictor import prices  # noqa: E402
from stockPredictor.config import ModelConfig, TrainConfig  # noqa: E402

TINY_MODEL = ModelConfig(window=5, units=4, layers=1, dropout=0.0, output_steps=5)
TINY_TRAINING = TrainConfig(epochs=1, batch_size=32, patience=1, seed=7)


@pytest.fixture(scope="session")
def walk():
    """A seeded random walk of 400 business days."""
    return prices.synthetic("random_walk", n=400, seed=1, ticker="WALK")


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, walk):
    """An artifact trained by train.fit with the tiniest settings, shared by the session."""
    from stockPredictor import train

    out = tmp_path_factory.mktemp("models") / "walk"
    return train.fit({"WALK": walk}, TINY_MODEL, TINY_TRAINING, out, report=lambda line: None)
