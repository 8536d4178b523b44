"""The model registry: every artifact in a models folder, loaded and verified once."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class _Models:
    """What the registry serves, swapped whole: a request reads one of these, never half of two."""

    artifacts: Mapping[str, artifacts.Artifact] = field(default_factory=dict)
    trained: frozenset[str] = frozenset()  # names added from the database
    defaults: Mapping[str, str] = field(default_factory=dict)  # ticker -> trained model's name


class Registry:
    """Loads each artifact of ``models_dir`` once; picks the model for a ticker.

    ``models_dir`` is a folder of artifact folders, or one artifact folder (it holds
    model.json), which then serves every ticker. Trained models come and go through ``add``
    and ``remove`` (store/trained.py) while requests read: each change builds a new state and
    assigns it in one step, so a request sees the models before or after it, never between.
    """

    def __init__(self, models_dir: str | os.PathLike | None = None):
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self._models = _Models()
        # Readers never lock; writers (a poll's refresh, a delete in a request) take turns, so
        # neither builds its new state from one the other is replacing.
        self._writing = threading.Lock()
        self.skipped: dict[str, str] = {}
        self.single = False  # True once load() finds models_dir is itself an artifact folder

    @property
    def artifacts(self) -> Mapping[str, artifacts.Artifact]:
        """Every model served, by name: the committed ones and the trained ones."""
        return self._models.artifacts

    @property
    def trained(self) -> frozenset[str]:
        """Names of the models added from the database."""
        return self._models.trained

    @property
    def defaults(self) -> Mapping[str, str]:
        """Ticker -> the trained model that serves it by default (consulted first)."""
        return self._models.defaults

    def load(self) -> "Registry":
        """Load every artifact folder; a bad one is skipped with its reason logged."""
        loaded: dict[str, artifacts.Artifact] = {}
        self.skipped = {}
        if not self.models_dir.is_dir():
            log.warning("models folder %s does not exist; no models loaded", self.models_dir)
        else:
            self.single = (self.models_dir / artifacts.META_FILE).is_file()
            folders = [self.models_dir] if self.single else [
                # Hidden folders are saves in progress or old copies being replaced.
                path for path in sorted(self.models_dir.iterdir())
                if path.is_dir() and not path.name.startswith(".")]
            for path in folders:
                self._load_one(path, loaded)
        # Trained models added already stay, unless a committed one now has the name.
        with self._writing:
            old = self._models
            trained = frozenset(name for name in old.trained if name not in loaded)
            self._models = _Models(
                {**loaded, **{name: old.artifacts[name] for name in trained}}, trained,
                {ticker: name for ticker, name in old.defaults.items() if name in trained})
        return self

    def _load_one(self, path: Path, loaded: dict[str, artifacts.Artifact]) -> None:
        try:
            artifact = artifacts.load(path)
            Policy.of(artifact)  # a damaged policy is refused here, not on every request
            loaded[path.name] = artifact
        except (StockPredictorError, OSError, ValueError, KeyError) as exc:
            log.warning("skipped model %s: %s", path.name, exc)
            self.skipped[path.name] = self._path_free(str(exc))

    def add(self, artifact: artifacts.Artifact, default_for: str | None = None) -> bool:
        """Serve the trained ``artifact``, replacing one of its name; False (and a log line) when
        a committed model has the name. ``default_for``: the ticker it serves by default.
        """
        Policy.of(artifact)  # a damaged policy is refused here, not on every request
        with self._writing:
            old, name = self._models, artifact.name
            if name in old.artifacts and name not in old.trained:
                log.warning("trained model %s not added: a committed model has that name", name)
                return False
            defaults = {ticker: model for ticker, model in old.defaults.items() if model != name}
            if default_for:
                defaults[default_for.upper()] = name
            self._models = _Models({**old.artifacts, name: artifact}, old.trained | {name},
                                   defaults)
        return True

    def remove(self, name: str) -> bool:
        """Stop serving the trained model ``name``; False when there is none (committed stay)."""
        with self._writing:
            old = self._models
            if name not in old.trained:
                return False
            self._models = _Models(
                {key: value for key, value in old.artifacts.items() if key != name},
                old.trained - {name},
                {ticker: model for ticker, model in old.defaults.items() if model != name})
        return True

    def names(self) -> list[str]:
        """Names of the loaded models, sorted."""
        return sorted(self.artifacts)

    def get(self, name: str) -> artifacts.Artifact:
        """The model called ``name``."""
        try:
            return self._models.artifacts[name]
        except KeyError:
            raise NotTrainedError(f"no model named {name!r}; loaded models: "
                                  f"{', '.join(self.names()) or 'none'}") from None

    def general(self) -> artifacts.Artifact | None:
        """The committed general model (the one called ``general``, else the newest of scope
        general): what serves a ticker that has no model of its own; None when none is loaded."""
        return self._general(self._models)

    @staticmethod
    def _general(state: _Models) -> artifacts.Artifact | None:
        committed = {n: a for n, a in state.artifacts.items() if n not in state.trained}
        if GENERAL in committed:
            return committed[GENERAL]
        general = [a for a in committed.values() if a.scope == "general"]
        return max(general, key=lambda a: a.metadata.get("created_at", "")) if general else None

    def model_for(self, ticker: str) -> artifacts.Artifact:
        """The ticker's default trained model, else its own committed model, else the general one.

        A registry of one artifact folder serves that artifact for every ticker: it was named
        on purpose, as ``--model`` names one.
        """
        ticker = ticker.upper()
        state = self._models  # one state throughout, whatever a refresh does meanwhile
        models, trained = state.artifacts, state.trained
        committed = [a for name, a in models.items() if name not in trained]
        if self.single and committed:
            return committed[0]
        # A trained model serves a ticker only once validation made it the ticker's default;
        # one that did not beat what served it is chosen by name alone.
        default = models.get(state.defaults.get(ticker, ""))
        if default is not None:
            return default
        own = [a for a in committed if a.scope == "ticker" and a.tickers == [ticker]]
        if own:
            return max(own, key=lambda a: a.metadata.get("created_at", ""))
        general = self._general(state)
        if general is not None:
            return general
        # No folder in the message: it may reach a web answer, where a server path has no place.
        raise NotTrainedError(f"no model for {ticker!r} and no general model is loaded; "
                              "train one with `stock-predictor train`")

    def _path_free(self, reason: str) -> str:
        # Reasons are shown by the CLI and the web app's health check: relative to the models
        # folder ("broken/scaler.pkl is missing") they say as much and reveal no server layout.
        return without_folders(reason, {self.models_dir: "the models folder"})
