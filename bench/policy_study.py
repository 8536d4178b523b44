"""A point policy without a kink: smooth policy forms on validation folds, then the test once.

Usage: python bench/policy_study.py [--model Flask_webapp/models/general] [--years 2] [--folds 5]

For the model's tickers in the bundled sample, folds are its validation split and consecutive
``--years`` windows before it (training/smooth_policy.py, validation_folds). Each form is fitted
on all folds (in-sample table) and by leave-one-fold-out: every fold label (val, pre1, ...) is
scored by the form fitted on the other labels (cross-validated table). The rule, fixed before
the test was read: among forms whose largest jump between adjacent weights is at most
MAX_JUMP, the one of least mean cross-validated ratio over steps 1..30. Only that form (and,
for reference, the committed per-step weights) is then scored on the held-out test period:
origins after val_end with all 30 outcomes in the sample. The test decides nothing.

Caveat printed with the tables: folds before train_end are the network's training data, where
its raw move is flattered; the per-fold raw ratios show by how much.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))

import numpy as np  # noqa: E402

from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.model import artifacts  # noqa: E402
from stockPredictor.training import smooth_policy as sp  # noqa: E402

STEPS = (1, 5, 10, 20, 30)
MAX_JUMP = 0.1


def fmt(values, digits=3) -> str:
    """The values at STEPS as table cells."""
    return " | ".join(f"{values[h - 1]:.{digits}f}" for h in STEPS)


def cross_validated(form: str, folds: list) -> tuple[np.ndarray, np.ndarray]:
    """Per step ratio, each fold label scored by the form fitted without it: the mean over all
    folds, and over the "val" folds alone (the only ones out of sample for the network too)."""
    out, val = [], []
    for label in sorted({f.label for f in folds}):
        held = [f for f in folds if f.label == label]
        weights, _ = sp.fit_form(form, [f for f in folds if f.label != label])
        out.extend(_fold_ratios(f, weights) for f in held)
        if label == "val":
            val.extend(_fold_ratios(f, weights) for f in held)
    return np.mean(out, axis=0), np.mean(val, axis=0)


def _fold_ratios(fold, weights) -> np.ndarray:
    return np.abs(fold.actual - fold.served(weights)).mean(axis=0) / fold.naive_mae


def main() -> None:
    """Print the forms' validation tables, the chosen form, and its held-out test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "Flask_webapp/models/general")
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    model = artifacts.load(args.model)
    frames = {t: load_prices(t, "sample") for t in model.metadata["data"]}
    folds, tabs = sp.validation_folds(model, frames, args.years, args.folds)
    steps = folds[0].moves.shape[1]
    print(f"model {model.name}; {len(folds)} folds of {args.years} years: "
          + ", ".join(f"{f.ticker}/{f.label} {f.dates[0].date()}..{f.dates[-1].date()} "
                      f"({len(f.dates)})" for f in folds))
    print("\nRaw network per fold, MAE/naive at h=" + ",".join(map(str, STEPS))
          + " (pre* folds lie in the training split: in-sample for the network)\n")
    for f in folds:
        print(f"  {f.ticker:5} {f.label:5} " + fmt(_fold_ratios(f, np.ones(steps))))
    head = "| form | params | max jump | " + " | ".join(f"h={h}" for h in STEPS) + " | mean 1..30 |"
    rule = "|---|---|---|" + "---|" * (len(STEPS) + 1)
    fitted, in_rows, choice = {}, [head, rule], {}
    cv_rows = [head + " val folds only, mean 1..30 (reports) |", rule + "---|"]
    for form in sp.FORMS:
        weights, params = sp.fit_form(form, folds)
        fitted[form] = weights
        jump = sp.smoothness(weights)
        text = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
        r_in = np.mean([_fold_ratios(f, weights) for f in folds], axis=0)
        r_cv, r_val = cross_validated(form, folds)
        in_rows.append(f"| {form} | {text} | {jump:.2f} | {fmt(r_in)} | {r_in.mean():.4f} |")
        cv_rows.append(f"| {form} | {text} | {jump:.2f} | {fmt(r_cv)} | {r_cv.mean():.4f} | "
                       f"{r_val.mean():.4f} |")
        if jump <= MAX_JUMP:
            choice[form] = r_cv.mean()
        print(f"\n{form} weights h=1..{steps}: " + " ".join(f"{w:.2f}" for w in weights))
    print("\nValidation MAE / naive, mean over folds x tickers, forms fitted on all folds "
          "(in-sample):\n")
    print("\n".join(in_rows))
    print("\nSame, leave-one-fold-label-out (each label scored by the form fitted on the "
          "others): DECIDES\n")
    print("\n".join(cv_rows))
    chosen = min(choice, key=choice.get)
    print(f"\nChosen (max jump <= {MAX_JUMP}, least mean cross-validated ratio): {chosen}")
    test_folds = []
    for ticker, table in tabs.items():
        index = frames[ticker].index
        first = int(index.searchsorted(model.metadata["data"][ticker]["val_end"], side="right"))
        rows = np.arange(first, len(table) - steps)
        if len(rows) >= 100:
            test_folds.append(sp.fold_from_table(ticker, "test", index, table, rows, steps))
    committed = np.array(model.metadata["policy"]["weights"][:steps])
    print("\nHeld-out test (reported once, decides nothing): "
          + ", ".join(f"{f.ticker} {f.dates[0].date()}..{f.dates[-1].date()} ({len(f.dates)})"
                      for f in test_folds) + "\n")
    print("| policy | " + " | ".join(f"h={h}" for h in STEPS) + " | mean 1..30 | "
          + " | ".join(f"p worse h={h}" for h in STEPS) + " | steps p<0.05 |")
    print("|---|" + "---|" * (2 * len(STEPS) + 2))
    for label, weights in ((chosen, fitted[chosen]), ("served (model.json)", committed)):
        ratio = np.mean([_fold_ratios(f, weights) for f in test_folds], axis=0)
        _, p_worse = sp.step_tests(test_folds, weights)
        flagged = [h + 1 for h in range(steps) if p_worse[h] < 0.05]
        print(f"| {label} | {fmt(ratio)} | {ratio.mean():.4f} | {fmt(p_worse, 3)} | "
              f"{', '.join(map(str, flagged)) or 'none'}"
              f"{' FLAG' if flagged else ''} |")


if __name__ == "__main__":
    main()
