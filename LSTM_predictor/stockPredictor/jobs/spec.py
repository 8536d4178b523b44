"""A training job's settings: every one bounded, checked once, whether it came from the /train
form (strings), the JSON API (numbers) or a test.

``LIMITS`` gives the bounds to the form's min/max and to the OpenAPI schema, so what a page
offers and what this module accepts never differ.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Mapping

from ..data.tickers import check_ticker
from ..errors import DataError, JobSettingError, excerpt
from ..model.config import ARCHITECTURES, ModelConfig, TrainConfig

__all__ = ["ARCHITECTURES", "JobSettingError", "JobSpec", "LIMITS"]

# (lowest, highest) of each numeric setting, both allowed.
LIMITS: dict[str, tuple[int | float, int | float]] = {
    "window": (5, 120),
    "units": (4, 64),
    "layers": (1, 2),
    "epochs": (1, 50),
    "learning_rate": (1e-4, 0.05),
    "days": (250, 5000),  # newest trading days trained on; 5000 is an upload's row bound too
}
_WHOLE = re.compile(r"[+]?\d{1,9}")
_DECIMAL = re.compile(r"[+]?(?:\d{1,9}(?:\.\d{0,12})?|\.\d{1,12})(?:[eE][+-]?\d{1,3})?")


@dataclass(frozen=True)
class JobSpec:
    """What a training job trains on and how: a ticker or a stored upload, and the network."""

    ticker: str | None = None  # a ticker (data.tickers' pattern), or None with upload_id
    upload_id: int | None = None  # a stored upload (store.uploads), or None with ticker
    arch: str = "lstm"
    # Defaults measured on one core (README "The queue and the worker"): about a minute when all
    # 25 epochs run, about half that when early stopping ends it, as it did on IBM's sample.
    window: int = 90
    units: int = 48
    layers: int = 2
    epochs: int = 25
    learning_rate: float = 0.001
    days: int = 3000

    def __post_init__(self) -> None:
        if (self.ticker is None) == (self.upload_id is None):
            raise JobSettingError("give exactly one of ticker or upload_id: the prices a model "
                                  "is trained on", field="ticker")
        if self.ticker is not None:
            object.__setattr__(self, "ticker", _ticker(self.ticker))
        if self.upload_id is not None and (not _is_int(self.upload_id) or self.upload_id < 1):
            raise JobSettingError(f"upload_id={excerpt(self.upload_id)} is not valid: expected "
                                  f"the positive whole number of a stored upload",
                                  field="upload_id")
        if self.arch not in ARCHITECTURES:
            raise JobSettingError(f"arch={excerpt(self.arch)} is not valid: expected one of "
                                  f"{', '.join(ARCHITECTURES)}", field="arch")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if name == "learning_rate":
                good = (isinstance(value, (int, float)) and not isinstance(value, bool)
                        and math.isfinite(value) and low <= value <= high)
                if good:
                    object.__setattr__(self, name, float(value))
                    continue
                raise JobSettingError(f"learning_rate={excerpt(value)} is out of bounds: "
                                      f"expected a number from {low:g} to {high:g}", field=name)
            if not _is_int(value) or not low <= value <= high:
                raise JobSettingError(f"{name}={excerpt(value)} is out of bounds: expected a "
                                      f"whole number from {low} to {high}", field=name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> "JobSpec":
        """A JobSpec from a form's or a JSON body's fields: numbers, or their decimal text.

        A field left empty (a form's blank ticker when a file is sent) takes its default;
        a key this class does not know is refused, naming it.
        """
        if not isinstance(data, Mapping):
            raise JobSettingError(f"the job's settings must be an object of fields, not "
                                  f"{type(data).__name__}", field="body")
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in data.items():
            if key not in known:
                raise JobSettingError(f"{excerpt(key)} is not a job setting: expected "
                                      f"{', '.join(sorted(known))}", field=str(key)[:40])
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # not given: the default (None for ticker and upload_id)
            values[key] = _parse(key, value)
        return cls(**values)

    def to_dict(self) -> dict:
        """The settings as a plain dict (JSON), the one ``from_mapping`` reads back."""
        return asdict(self)

    def model_config(self) -> ModelConfig:
        """The network these settings build: scale-free targets over the model's 30 steps."""
        try:
            return ModelConfig(arch=self.arch, window=self.window, units=self.units,
                               layers=self.layers)
        except DataError as exc:  # bounds here are inside ModelConfig's: only a bug lands here
            raise JobSettingError(str(exc), field="arch") from exc

    def train_config(self) -> TrainConfig:
        """How the network is fitted: these epochs and learning rate, the package's splits."""
        return TrainConfig(learning_rate=self.learning_rate, epochs=self.epochs)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ticker(value: object) -> str:
    try:
        return check_ticker(value)  # type: ignore[arg-type]
    except DataError as exc:
        raise JobSettingError(str(exc), field="ticker") from exc


def _parse(key: str, value: object) -> object:
    # Text from a form becomes the number it spells; JSON numbers pass as they are. A bool is
    # never a number here (True would be 1 epoch), and an integral float (30.0) is a whole one.
    if key in ("ticker", "arch"):
        if not isinstance(value, str):
            raise JobSettingError(f"{key}={excerpt(value)} is not valid: expected text",
                                  field=key)
        return _ticker(value) if key == "ticker" else value.strip().lower()
    if isinstance(value, bool):
        return value  # refused by the bounds check, naming the field
    if key == "learning_rate":
        if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            return float(value.strip())
        return value
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
