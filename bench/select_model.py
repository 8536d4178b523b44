"""Which model ships: train every candidate with the real CLI, choose on validation data only.

Usage: python bench/select_model.py [--tickers IBM ...] [--variants] [--keep DIR] [--json FILE]

Each candidate is trained by running `stock-predictor train ...` as a subprocess (the command is
printed, so a shipped model's command is exactly one shown here) into a temporary folder, or
reused from --keep DIR when an earlier run left it there. `train` fits the point policy on the
validation folds (training/smooth_policy.py). Every choice is then made on validation data alone:

- candidates are backtested with evaluate.backtest, horizon 30, an origin every trading day, from
  each ticker's last training day to its validation end (`train_end`, `val_end` in model.json):
  no price of the test split is read. AAPL, IBM and MSFT validate on 2009-04 to 2011-03, GOOG on
  2010-08 to 2011-11; FB (listed 2012) has too few validation days to score.
- the winner of a group has the lowest mean over steps 1..30 of the served forecast's MAE vs
  naive in origin-close units (pooled: the mean over tickers of each ticker's ratio of errors
  each divided by its origin's close, evaluate.summary's mae_relative_vs_naive), ties broken by
  the raw network's, among the candidates whose raw network is on average no worse than naive
  (a policy cannot make a broken network trustworthy: a MinMax model that is 1.7 times worse
  than naive keeps a few lucky steps). With no such candidate, the one with the lowest raw mean
  wins, and its policy likely serves naive everywhere. The policy keeps the served forecast at
  or below naive on validation by construction, so the worst step cannot decide.
- the band method, one for every model: the general winner's validation backtests with bands
  scaled by EWMA volatility of several decays, and unscaled (today's band before this change).
  The chosen decay has the lowest mean interval (Winkler) score on log prices (unit-free,
  metrics.log_interval_score; each ticker weighs the same) among those whose pooled 80%
  coverage lies within 75-85% at every step; bands.VOLATILITY_DECAY must equal it (the run says
  whether it does). The band's term structure on top of it (bands.TERM_PHI) is chosen by
  bench/bands_study.py on several validation folds.

The held-out test period (after `val_end`) is scored once, after the choice, by
bench/accuracy.py on the committed models. "general" is chosen among the scale-free models
trained on all five tickers, "<ticker>" among the models trained on that ticker alone.
--variants adds settings variations, all of them `train` options. Training is seeded and
deterministic on CPU. Prints markdown tables; never pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))

import numpy as np  # noqa: E402

import pandas as pd  # noqa: E402

from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.errors import DataError  # noqa: E402
from stockPredictor.forecast import bands, evaluate, metrics  # noqa: E402
from stockPredictor.model import artifacts  # noqa: E402
from stockPredictor.training import smooth_policy  # noqa: E402

ALL_TICKERS = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
SCORED = ("AAPL", "GOOG", "IBM", "MSFT")  # FB has no origin after its training data
HORIZON = 30
STEPS = (1, 5, 10, 20, 30)
# Every comparison in relative units (metrics.py): errors in units of each origin's close and
# interval scores on log prices, so a ticker's dear years or a dear ticker do not dominate.
POINT = "mae_relative_vs_naive"


@dataclass(frozen=True)
class Candidate:
    """One model to train: its group, the tickers it learns from and its train options."""

    name: str
    group: str  # "general" or the ticker a per-ticker model is for
    tickers: tuple[str, ...]
    options: tuple[str, ...] = ()

    def command(self, out: Path) -> list[str]:
        """The exact `stock-predictor train` command line, writing to ``out``."""
        tickers = [arg for t in self.tickers for arg in ("--ticker", t)]
        return ["stock-predictor", "train", *tickers, "--source", "sample", *self.options,
                "--out", str(out)]


# Settings variations tried because the defaults miss the target at short horizons; each is a
# `train` option. Fewer units and more dropout regularise; a 20-day window gives the network
# less noise to fit; a lower learning rate trains for more epochs before early stopping.
VARIANTS = (("units16", ("--units", "16")),
            ("window20", ("--window", "20")),
            ("dropout0.3", ("--dropout", "0.3")),
            ("lr3e-4", ("--learning-rate", "0.0003")))
TICKER_VARIANTS = VARIANTS[1:2]  # the general models' best variation, kept cheap per ticker


def candidates(per_ticker: list[str], variants: bool) -> list[Candidate]:
    """General scale-free models on all five tickers, then four recipes per ticker."""
    archs = ("lstm", "attention")
    found = [Candidate(f"general-{arch}", "general", ALL_TICKERS, ("--arch", arch))
             for arch in archs]
    if variants:
        found += [Candidate(f"general-{arch}-{label}", "general", ALL_TICKERS,
                            ("--arch", arch, *options))
                  for arch in archs for label, options in VARIANTS]
    for ticker in per_ticker:
        found += [Candidate(f"{ticker.lower()}-{arch}-{target}", ticker, (ticker,),
                            ("--arch", arch, "--target", target))
                  for target in ("log_return", "minmax") for arch in archs]
        if variants:
            found += [Candidate(f"{ticker.lower()}-{arch}-log_return-{label}", ticker, (ticker,),
                                ("--arch", arch, "--target", "log_return", *options))
                      for arch in archs for label, options in TICKER_VARIANTS]
    return found


def train(candidate: Candidate, folder: Path) -> tuple[artifacts.Artifact, float]:
    """Run the candidate's training command; the loaded artifact and the seconds it took."""
    out = folder / candidate.name
    command = candidate.command(out)
    print(f"$ {shlex.join(command)}", flush=True)
    if (out / artifacts.META_FILE).exists():  # --keep from an earlier run: reuse, with a policy
        model = artifacts.load(out)
        if "policy" not in model.metadata:
            frames = {t: load_prices(t, "sample") for t in model.tickers}
            artifacts.update_metadata(out, policy=smooth_policy.fit_entry(model, frames))
            model = artifacts.load(out)
        print("  reused the model trained before", flush=True)
        return model, 0.0
    # The console script beside this interpreter: the venv's, even when PATH lacks it.
    binary = Path(sys.executable).with_name("stock-predictor")
    if not binary.exists():
        binary = Path(shutil.which("stock-predictor") or "stock-predictor")
    started = time.perf_counter()
    run = subprocess.run([str(binary), *command[1:]], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode:
        raise SystemExit(f"training {candidate.name} failed:\n{run.stdout}\n{run.stderr}")
    print(f"  {run.stdout.strip().splitlines()[-2]}  ({seconds:.0f} s)", flush=True)
    return artifacts.load(out), seconds


def validation_backtests(model: artifacts.Artifact, tickers: list[str], frames: dict,
                         decay=bands.VOLATILITY_DECAY) -> list:
    """Backtests of ``model`` on each ticker's validation split: no test price is read."""
    results = []
    for ticker in tickers:
        split = model.metadata["data"][ticker]
        start = pd.Timestamp(split["train_end"]) + pd.Timedelta(days=1)
        try:
            results.append(evaluate.backtest(frames[ticker], model, horizon=HORIZON,
                                             start=start, end=split["val_end"], band_decay=decay))
        except DataError:  # FB: too few validation days for a 30-day origin
            continue
    return results


def score(model: artifacts.Artifact, tickers: list[str], frames: dict) -> dict:
    """Pooled validation metrics of ``model`` on ``tickers``, served and raw."""
    results = validation_backtests(model, tickers, frames)
    pooled = evaluate.summary(results)
    raw = f"{model.name} (raw)"
    if raw in results[0].forecasts:
        scores = [r.metrics()[raw][POINT] for r in results]
        pooled["raw_mae_vs_naive"] = metrics.rounded(np.mean(scores, axis=0))
    else:
        pooled["raw_mae_vs_naive"] = pooled[POINT]
    pooled["served_steps"] = int(sum(w > 0 for w in model.metadata["policy"]["weights"]))
    return pooled


def winner(rows: dict[str, dict]) -> str:
    """The name of the best of ``rows`` (name -> summary) by the rule in the module docstring."""
    def mean(name: str, key: str) -> float:
        return float(np.nanmean(np.array(rows[name][key], dtype=float)))

    eligible = [n for n in rows if mean(n, "raw_mae_vs_naive") <= 1.0]
    if not eligible:  # no network beat naive on validation: the least bad one, likely all naive
        return min(rows, key=lambda n: mean(n, "raw_mae_vs_naive"))
    return min(eligible, key=lambda n: (mean(n, POINT), mean(n, "raw_mae_vs_naive")))


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def table(rows: dict[str, dict], info: dict[str, str]) -> str:
    """A markdown table: one row per candidate, served and raw, on validation origins."""
    head = (["candidate", "train s, epochs (best)", "origins", "steps served"]
            + [f"rel MAE/naive h={h}" for h in STEPS]
            + ["mean h=1..30", "worst h=1..30", "raw mean h=1..30", "raw worst h=1..30"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in rows.items():
        served = np.array(row[POINT], dtype=float)
        raw = np.array(row["raw_mae_vs_naive"], dtype=float)
        cells = [name, info.get(name, ""), str(row["origins"]), str(row["served_steps"])]
        cells += [_ratio(row[POINT][h - 1]) for h in STEPS]
        cells += [f"{np.nanmean(served):.3f}", f"{np.nanmax(served):.3f}",
                  f"{np.nanmean(raw):.3f}", f"{np.nanmax(raw):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


DECAYS = (None, 0.9, 0.94, 0.97, 0.99)


def band_contest(model: artifacts.Artifact, tickers: list[str], frames: dict) -> tuple[str, object]:
    """A markdown table of band methods on ``model``'s validation origins, and the chosen decay."""
    head = ["band", "coverage h=1..30 pooled, min-max", "per ticker min-max",
            "log interval score vs unscaled"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base, chosen, best = None, None, np.inf
    for decay in DECAYS:
        results = validation_backtests(model, tickers, frames, decay)
        scores = [r.metrics()[model.name] for r in results]
        coverage = np.mean([s["coverage"] for s in scores], axis=0)
        interval = np.mean([np.nanmean(s["interval_score_log"]) for s in scores])
        base = interval if decay is None else base
        each = [f"{r.ticker} {np.nanmin(s['coverage']):.0%}-{np.nanmax(s['coverage']):.0%}"
                for r, s in zip(results, scores)]
        label = "unscaled" if decay is None else f"EWMA {decay}"
        lines.append(f"| {label} | {np.nanmin(coverage):.1%}-{np.nanmax(coverage):.1%} | "
                     f"{', '.join(each)} | {interval / base:.3f} |")
        if 0.75 <= np.nanmin(coverage) and np.nanmax(coverage) <= 0.85 and interval < best:
            chosen, best = decay, interval
    return "\n".join(lines), chosen


def main() -> None:
    """Train every candidate, choose on validation, print the tables and the winners."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", nargs="*", default=list(SCORED),
                        help="tickers to train per-ticker candidates for (default: all four "
                        "scored ones; none for only the general ones)")
    parser.add_argument("--variants", action="store_true",
                        help="also train the settings variations (general: " +
                        ", ".join(label for label, _ in VARIANTS) + "; per ticker: " +
                        ", ".join(label for label, _ in TICKER_VARIANTS) + ")")
    parser.add_argument("--keep", type=Path, help="train into this folder and keep the models "
                        "(models already there are reused)")
    parser.add_argument("--json", type=Path, help="also write every summary to this JSON file")
    args = parser.parse_args()
    unknown = sorted(set(args.tickers) - set(SCORED))
    if unknown:
        parser.error(f"per-ticker candidates are scored on {', '.join(SCORED)}, not {unknown}")
    frames = {t: load_prices(t, "sample") for t in ALL_TICKERS}
    models, summaries, info, total = {}, {}, {}, 0.0
    with tempfile.TemporaryDirectory(prefix="select-model-") as scratch:
        for candidate in candidates(args.tickers, args.variants):
            model, seconds = train(candidate, args.keep or Path(scratch))
            total += seconds
            history = model.metadata["history"]
            info[candidate.name] = (f"{seconds:.0f}, {history['epochs_run']} "
                                    f"({history['best_epoch']})")
            scored = list(SCORED) if candidate.group == "general" else [candidate.group]
            models[candidate.name] = (candidate, model)
            summaries[candidate.name] = score(model, scored, frames)
        print(f"\ntrained {len(models)} candidates in {total / 60:.1f} min (0 for reused ones)"
              f"; every figure below is on validation origins only\n")
        groups = {"general": list(SCORED), **{t: [t] for t in args.tickers}}
        for group, tickers in groups.items():
            own = {n: summaries[n] for n, (c, _) in models.items() if c.group == group}
            if not own:
                continue
            print(f"## {group}: validation origins of {', '.join(tickers)}, horizon {HORIZON}\n")
            print(table(own, info))
            best = winner(own)
            print(f"\nwinner for {group.lower()}: {best}\n")
            if group != "general":
                continue
            text, decay = band_contest(models[best][1], tickers, frames)
            print(f"band methods on {best}'s validation origins (80% bands):\n\n{text}\n")
            agree = "matches" if decay == bands.VOLATILITY_DECAY else "DIFFERS from"
            print(f"chosen band: {decay} ({agree} bands.VOLATILITY_DECAY = "
                  f"{bands.VOLATILITY_DECAY})\n")
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n")


if __name__ == "__main__":
    main()
