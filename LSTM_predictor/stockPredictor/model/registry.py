"""The model registry: every artifact in a models folder, loaded and verified once."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import settings
from ..errors import NotTrainedError, StockPredictorError, without_folders
from . import artifacts
from .policy import Policy

log = logging.getLogger(__name__)

GENERAL = "general"


def default_models_dir() -> Path:
    """The MODELS_DIR setting: by default the committed models folder."""
    return settings.current().models_dir


class Registry:
    """Loads each artifact of ``models_dir`` once; picks the model for a ticker.

    ``models_dir`` is a folder of artifact folders, or one artifact folder (it holds
    model.json), which then serves every ticker.
    """

    def __init__(self, models_dir: str | os.PathLike | None = None):
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.artifacts: dict[str, artifacts.Artifact] = {}
        self.skipped: dict[str, str] = {}
        self.single = False  # True once load() finds models_dir is itself an artifact folder

    def load(self) -> "Registry":
        """Load every artifact folder; a bad one is skipped with its reason logged."""
        self.artifacts, self.skipped = {}, {}
        if not self.models_dir.is_dir():
            log.warning("models folder %s does not exist; no models loaded", self.models_dir)
            return self
        self.single = (self.models_dir / artifacts.META_FILE).is_file()
        if self.single:
            self._load_one(self.models_dir)
            return self
        for path in sorted(self.models_dir.iterdir()):
            # Hidden folders are saves in progress or old copies being replaced.
            if path.is_dir() and not path.name.startswith("."):
                self._load_one(path)
        return self

    def _load_one(self, path: Path) -> None:
        try:
            artifact = artifacts.load(path)
            Policy.of(artifact)  # a damaged policy is refused here, not on every request
            self.artifacts[path.name] = artifact
        except (StockPredictorError, OSError, ValueError, KeyError) as exc:
            log.warning("skipped model %s: %s", path.name, exc)
            self.skipped[path.name] = self._path_free(str(exc))

    def names(self) -> list[str]:
        """Names of the loaded models, sorted."""
        return sorted(self.artifacts)

    def get(self, name: str) -> artifacts.Artifact:
        """The model called ``name``."""
        try:
            return self.artifacts[name]
        except KeyError:
            raise NotTrainedError(f"no model named {name!r}; loaded models: "
                                  f"{', '.join(self.names()) or 'none'}") from None

    def model_for(self, ticker: str) -> artifacts.Artifact:
        """The ticker's own model if one is loaded, else the general model.

        A registry of one artifact folder serves that artifact for every ticker: it was named
        on purpose, as ``--model`` names one.
        """
        ticker = ticker.upper()
        if self.single and self.artifacts:
            return next(iter(self.artifacts.values()))
        own = [a for a in self.artifacts.values() if a.scope == "ticker" and a.tickers == [ticker]]
        if own:
            return max(own, key=lambda a: a.metadata.get("created_at", ""))
        if GENERAL in self.artifacts:
            return self.artifacts[GENERAL]
        general = [a for a in self.artifacts.values() if a.scope == "general"]
        if general:
            return max(general, key=lambda a: a.metadata.get("created_at", ""))
        # No folder in the message: it may reach a web answer, where a server path has no place.
        raise NotTrainedError(f"no model for {ticker!r} and no general model is loaded; "
                              "train one with `stock-predictor train`")

    def _path_free(self, reason: str) -> str:
        # Reasons are shown by the CLI and the web app's health check: relative to the models
        # folder ("broken/scaler.pkl is missing") they say as much and reveal no server layout.
        return without_folders(reason, {self.models_dir: "the models folder"})
