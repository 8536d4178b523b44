"""The point policy: how much of the network's predicted move to serve at each step.

On daily prices the naive forecast (no change) is very hard to beat a few days ahead, so the
served forecast at step h is the network's forecast shrunk toward the last close:

    served_h = c_t * (f_h / c_t) ** w_h,  i.e.  log(served_h / c_t) = w_h * log(f_h / c_t),

with a weight w_h in [0, 1] per step. w_h = 0 serves the naive forecast itself, w_h = 1 the raw
network. The weights are fitted on folds before the test split only (never the test split nor
anything later), by training/smooth_policy.py in the form chosen there (FORM): one weight c for
the whole path, the c with the lowest mean MAE relative to naive over steps and folds (each fold
one ticker's validation split or a window of years before it, so no price level or period
dominates; those earlier windows are in the network's training years), shrunk by the
strength of the evidence that the path beats naive: w = c * max(0, 1 - 1 / t^2), t the
Diebold-Mariano statistic of the path's mean loss against naive's (HAC variance, Harvey-
Leybourne-Newbold correction) on the daily cross-fold mean of price-normalised errors. Where
t <= 1 the evidence is not convincing and every weight is 0: the forecast is "no change". One
weight for every step keeps the served path the network's own shape, scaled, so it never sits
flat for days and then bends. policy_fit.py holds the former per-step rule (each step's best
weight shrunk by its own t), still offered by ``fit-policy --form per-step``; the Policy here
reads any form, since each is a weight per step.

model.json keeps the weights and this evidence under ``policy``; an artifact without one serves
the raw network (``Policy.identity``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ArtifactError
from .artifacts import Artifact
from .config import MAX_HORIZON

METHOD = "shrink-toward-naive"


@dataclass(frozen=True)
class Policy:
    """Per-step weights on the network's predicted log move; see the module docstring."""

    weights: tuple[float, ...]

    @classmethod
    def identity(cls, steps: int = MAX_HORIZON) -> "Policy":
        """Serve the raw network at every step (an artifact fitted before policies existed)."""
        return cls((1.0,) * steps)

    @classmethod
    def of(cls, model: Artifact) -> "Policy":
        """The policy recorded in ``model``'s model.json, else the identity."""
        entry = model.metadata.get("policy")
        steps = model.config.output_steps
        if entry is None:
            return cls.identity(steps)
        weights = entry.get("weights") if isinstance(entry, dict) else None
        if not isinstance(weights, list) or len(weights) != steps or not all(
                isinstance(w, (int, float)) and 0.0 <= w <= 1.0 for w in weights):
            raise ArtifactError(f"model {model.name!r}: policy.weights in model.json must be "
                                f"{steps} numbers from 0 to 1")
        return cls(tuple(float(w) for w in weights))

    @property
    def is_identity(self) -> bool:
        """True when every weight is 1: the served forecast is the raw network's."""
        return all(w == 1.0 for w in self.weights)

    def apply(self, forecasts: np.ndarray, last_close) -> np.ndarray:
        """Served closes from raw forecast closes (n, H) and each origin's last close (n,)."""
        forecasts = np.asarray(forecasts, dtype=np.float64)
        if self.is_identity:
            return forecasts
        last = np.asarray(last_close, dtype=np.float64).reshape(-1, 1)
        weights = np.asarray(self.weights[:forecasts.shape[1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            served = last * np.exp(weights * np.log(forecasts / last))
        # w = 0 is the naive forecast exactly, whatever the network said (NaN: no forecast).
        return np.where(weights == 0.0, np.where(np.isnan(forecasts), np.nan, last), served)


def summary(model: Artifact) -> dict | None:
    """The model's point policy in brief, or None when it serves the raw network."""
    entry = model.metadata.get("policy")
    if not isinstance(entry, dict):
        return None
    weights = Policy.of(model).weights  # checked: malformed weights are an ArtifactError
    return {"method": entry.get("method"), "fitted_on": entry.get("fitted_on", "validation"),
            "start": entry.get("start"), "end": entry.get("end"),
            "served_steps": sum(w > 0 for w in weights)}
