"""Forecast tables: a model's forecasts at every origin of a price series, built once and sliced.

For one model and one series of closes, a table holds the model's raw outputs for all its steps
at every origin (every row a full input window ends on), and for each of those forecasts whether
the outcome fell inside its band at each offered level (bands.LEVELS), the bands calibrated on
the errors known by that origin (bands.py). The forecast it serves is the model's point policy
(model/policy.py) applied to the raw outputs; the raw network's forecast stays readable for
comparison. A forecast at any ``as_of`` and horizon, its bands and its track record are then
slices of the table (report.py), and backtests read the same forecasts (evaluate.py): one
mechanism computes the model's forecasts, so they can never disagree.

Tables are built in blocks of BLOCK_ROWS origins, each in batched runtime calls, and kept in a
byte-bounded LRU cache. A block's key is the model (with its policy) and the closes its contents
depend on (its origins' windows, the LOOKBACK origins before it whose errors calibrate its bands,
the returns their volatilities read, LONG_RUN_RETURNS of them for the long-run variance, and the
outcomes up to MAX_HORIZON days after it), so new prices at the end of a series change the key
of the last block or two only: a daily update
rebuilds about a block, not the series. A forecast and its band read the rows from
``as_of - LOOKBACK`` to ``as_of``, and a year's track record lies inside them: at most two
blocks.

Nothing leaks from the future: the output at origin t reads closes up to t; its band flag reads
the outcome it scores and errors known by t; slices for a request at ``as_of`` stop there.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..lru import ByteBoundedLRU
from ..model.artifacts import Artifact
from ..model.config import MAX_HORIZON
from ..model.policy import Policy
from ..settings import Settings
from .bands import (CALIBRATION_ORIGINS, DEFAULT_LEVEL, LEVELS, LONG_RUN_RETURNS, TERM_PHI,
                    VOLATILITY_DECAY, VOLATILITY_RETURNS, band, log_errors, widths_at)
from .metrics import band_flags

BLOCK_ROWS = 512
# Earlier origins whose errors a band reads: a year of calibration plus the longest horizon.
LOOKBACK = CALIBRATION_ORIGINS + MAX_HORIZON
# Per process, TABLE_CACHE_MB. A 13-year block set is about 0.5 MB (5 bytes a cell: a float32
# output and one byte of band flags).
DEFAULT_CACHE_BYTES = Settings().table_cache_bytes
default_cache = ByteBoundedLRU(DEFAULT_CACHE_BYTES)


def private_cache() -> ByteBoundedLRU:
    """A cache of the default size for work that must not fill the serving cache (a fit)."""
    return ByteBoundedLRU(DEFAULT_CACHE_BYTES)


def pack_flags(per_level: list[np.ndarray]) -> np.ndarray:
    """One byte a cell from ``band_flags`` at each of LEVELS: bit 2i says the outcome is known
    with a band at LEVELS[i], bit 2i + 1 that it fell inside that band."""
    packed = np.zeros(per_level[0].shape, np.uint8)
    for i, flags in enumerate(per_level):
        packed |= ((flags >= 0).astype(np.uint8) << 2 * i) | (
            (flags == 1).astype(np.uint8) << 2 * i + 1)
    return packed


def unpack_flags(packed: np.ndarray, level: float) -> np.ndarray:
    """``band_flags`` at ``level`` (one of LEVELS) from ``pack_flags``' bytes: 1, 0, -1."""
    i = LEVELS.index(level)
    known, inside = (packed >> 2 * i) & 1, (packed >> 2 * i + 1) & 1
    return np.where(known == 1, inside, -1).astype(np.int8)


class Block:
    """BLOCK_ROWS origins of a table: raw outputs (float32) and band flags (a byte), per step."""

    def __init__(self, outputs: np.ndarray, flags: np.ndarray):
        self.outputs, self.flags = outputs, flags
        # A cached block is shared by every request that reads it: never modified in place.
        outputs.flags.writeable = flags.flags.writeable = False

    @property
    def nbytes(self) -> int:
        """Bytes held, for the cache's bound."""
        return self.outputs.nbytes + self.flags.nbytes


class ForecastTable:
    """One model's forecasts over one series of closes: every origin, every step, sliced on read.

    Rows are the series' rows; an origin row t forecasts rows t + 1 .. t + steps. Rows before
    ``first`` (too early for a full input window) have no forecast.
    """

    def __init__(self, closes: np.ndarray, model: Artifact,
                 cache: ByteBoundedLRU | None = None, policy: Policy | None = None):
        self.closes = np.ascontiguousarray(closes, dtype=np.float64)
        self.model = model
        self.first = model.windowing.rows_needed - 1
        # Forecasts go MAX_HORIZON steps at most; a model with more outputs keeps those only.
        self.steps = min(model.model.output_steps, MAX_HORIZON)
        self.cache = default_cache if cache is None else cache
        self.policy = Policy.of(model) if policy is None else policy
        self.built = 0  # blocks this table computed (the rest came from the cache)
        # model.json is not covered by the file checksums: its policy is part of the key.
        self.model_key = (model.name, *sorted(model.metadata.get("files", {}).values()),
                          self.policy.weights, VOLATILITY_DECAY, TERM_PHI, LEVELS)
        self._blocks: dict[int, Block] = {}

    def __len__(self) -> int:
        return len(self.closes)

    def forecasts(self, rows, horizon: int, raw: bool = False) -> np.ndarray:
        """Closes served at each origin row, (len(rows), horizon); NaN before ``first``.

        ``raw=True`` gives the network's own forecast, before the point policy.
        """
        rows = np.asarray(rows, dtype=np.intp)
        outputs = self._read(rows, "outputs")[:, :horizon]
        return self._decode(outputs, self.closes[rows], raw)

    def _decode(self, outputs: np.ndarray, last: np.ndarray, raw: bool = False) -> np.ndarray:
        closes = self.model.windowing.decode(outputs, last)
        return closes if raw else self.policy.apply(closes, last)

    def served_from(self, outputs: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Served closes from raw outputs (n, h) and each origin's last close (n,), exactly
        as the table serves its own (a watchlist's batch of newest windows)."""
        return self._decode(outputs, last)

    def flags(self, rows, horizon: int, level: float = DEFAULT_LEVEL) -> np.ndarray:
        """``metrics.band_flags`` of each origin row's band at ``level`` (one of LEVELS),
        (len(rows), horizon)."""
        packed = self._read(np.asarray(rows, dtype=np.intp), "flags")[:, :horizon]
        return unpack_flags(packed, level)

    def build(self) -> "ForecastTable":
        """Compute every block now (start-up, benchmarks) rather than on first use."""
        self._ensure(0, len(self) - 1)
        return self

    # -- blocks ----------------------------------------------------------------------------

    def _read(self, rows: np.ndarray, part: str) -> np.ndarray:
        if not len(rows):
            return np.empty((0, self.steps), np.float32 if part == "outputs" else np.uint8)
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError(f"rows {rows.min()}..{rows.max()} are outside 0..{len(self) - 1}")
        self._ensure(int(rows.min()), int(rows.max()))
        first_block = int(rows.min()) // BLOCK_ROWS
        last_block = int(rows.max()) // BLOCK_ROWS
        whole = np.concatenate([getattr(self._blocks[k], part)
                                for k in range(first_block, last_block + 1)])
        return whole[rows - first_block * BLOCK_ROWS]

    def _ensure(self, low_row: int, high_row: int) -> None:
        wanted = range(low_row // BLOCK_ROWS, high_row // BLOCK_ROWS + 1)
        missing = []
        for k in wanted:
            if k in self._blocks:
                continue
            block = self.cache.get(self._key(k))
            if block is None:
                missing.append(k)
            else:
                self._blocks[k] = block
        # Each run of consecutive missing blocks in one batch; cached ones are never recomputed
        # (float32 batches may round the last bit differently, and a cached value must not move).
        runs = np.split(np.array(missing), np.nonzero(np.diff(missing) != 1)[0] + 1)
        for run in (r for r in runs if len(r)):
            for k, block in self._compute(int(run[0]), int(run[-1])).items():
                self._blocks[k] = block
                self.cache.put(self._key(k), block)

    def _key(self, k: int) -> tuple:
        # What block k's contents depend on: closes from its earliest calibration window's
        # first input to its last outcome. Equal closes there give an equal block.
        reach = max(self.first, VOLATILITY_RETURNS, LONG_RUN_RETURNS)
        start = max(0, k * BLOCK_ROWS - LOOKBACK - reach)
        stop = min(len(self), (k + 1) * BLOCK_ROWS + self.steps)
        digest = hashlib.blake2b(self.closes[start:stop].tobytes(), digest_size=16).digest()
        return (*self.model_key, k, start, stop, digest)

    def _compute(self, first_block: int, last_block: int) -> dict[int, Block]:
        # One batch of windows for the blocks' origins and the LOOKBACK origins before them.
        low = first_block * BLOCK_ROWS
        high = min(len(self), (last_block + 1) * BLOCK_ROWS)
        start = max(self.first, low - LOOKBACK)
        outputs = np.full((high - low, self.steps), np.nan, np.float32)
        flags = np.zeros((high - low, self.steps), np.uint8)
        if start < high:
            positions = np.arange(start, high)
            windowing = self.model.windowing
            raw = self.model.model(windowing.inputs(self.closes, ends=positions))[:, :self.steps]
            closes = self._decode(raw, self.closes[positions])
            errors = log_errors(self.closes, positions, closes)
            origins = np.arange(max(low, self.first), high)
            mine = origins - start
            targets = origins[:, None] + np.arange(1, self.steps + 1)
            actual = np.where(targets < len(self), self.closes[np.minimum(targets, len(self) - 1)],
                              np.nan)
            per_level = [band_flags(actual, *band(closes[mine], width)) for width in
                         widths_at(self.closes, positions, errors, origins, LEVELS).values()]
            outputs[origins - low] = raw[mine]
            flags[origins - low] = pack_flags(per_level)
        self.built += last_block - first_block + 1
        # Copies, not views: a view would keep the whole batch alive after its block is evicted.
        cuts = [slice((k - first_block) * BLOCK_ROWS, (k + 1 - first_block) * BLOCK_ROWS)
                for k in range(first_block, last_block + 1)]
        return {first_block + i: Block(outputs[cut].copy(), flags[cut].copy())
                for i, cut in enumerate(cuts)}


def table_for(frame: pd.DataFrame, model: Artifact,
              cache: ByteBoundedLRU | None = None) -> ForecastTable:
    """The table of ``model`` over ``frame``'s closes; its blocks come from ``cache`` when there."""
    return ForecastTable(frame["close"].to_numpy(np.float64), model, cache)


def build(frame: pd.DataFrame, model: Artifact,
          cache: ByteBoundedLRU | None = None) -> ForecastTable:
    """The whole table of ``model`` over ``frame``, computed now."""
    return table_for(frame, model, cache).build()
