"""Model and training settings as frozen dataclasses with sensible defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..data.calendar import MAX_HORIZON
from ..errors import DataError

ARCHITECTURES = ("lstm", "attention")
TARGETS = ("log_return", "minmax")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network and of what it learns to predict.

    ``target="log_return"`` is scale-free: inputs are daily log returns and
    outputs the cumulative log return to each of the next ``output_steps``
    days, so one model serves any price level. ``target="minmax"`` is the
    original tutorial recipe: closes scaled into [0, 1] by the training split.
    """

    arch: str = "lstm"
    target: str = "log_return"
    window: int = 60
    units: int = 32
    layers: int = 2
    dropout: float = 0.1
    output_steps: int = MAX_HORIZON

    def __post_init__(self) -> None:
        _check_choice("arch", self.arch, ARCHITECTURES)
        _check_choice("target", self.target, TARGETS)
        _check_range("window", self.window, 2, 1000)
        _check_range("units", self.units, 1, 1024)
        _check_range("layers", self.layers, 1, 8)
        _check_range("output_steps", self.output_steps, 1, 365)
        if not 0.0 <= self.dropout < 1.0:
            raise DataError(f"dropout={self.dropout!r} must be in [0, 1)")

    def to_dict(self) -> dict:
        """Plain dict for ``model.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Build from ``model.json``, ignoring keys this version does not know."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class TrainConfig:
    """How the network is fitted: optimiser, batches, stopping and splits."""

    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 30
    patience: int = 5
    seed: int = 42
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        _check_range("batch_size", self.batch_size, 1, 65536)
        _check_range("epochs", self.epochs, 1, 10000)
        _check_range("patience", self.patience, 0, 10000)
        if not 0.0 < self.learning_rate < 1.0:
            raise DataError(f"learning_rate={self.learning_rate!r} must be in (0, 1)")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise DataError(f"{name}={value!r} must be in (0, 0.5)")

    def to_dict(self) -> dict:
        """Plain dict for ``model.json``."""
        return asdict(self)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DataError(f"{name}={value!r} is not one of {', '.join(allowed)}")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DataError(f"{name}={value!r} must be an integer from {low} to {high}")
