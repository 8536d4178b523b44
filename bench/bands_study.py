"""Band methods with a volatility term structure, against a plain rolling conformal band.

Usage: python bench/bands_study.py [--quick] [--models DIR] [--model general]

For the general model on the bundled sample tickers, on identical origins (stride 1, steps 1-30)
and in log prices: the former served band (EWMA volatility carried flat to every step, phi = 1),
GARCH(1,1)-t (``arch``, refit every REFIT days on returns up to the origin, scaled by the sum of
the 1..h step variances), a blend of the EWMA and long-run variances (day-k weight on the EWMA
phi^(k-1)), and each of these plus separate upper and lower quantile trackers per step (conformal
PID, integral part), each updated when its h-step outcome becomes known. Every band is a
conformal quantile of the last CALIBRATION normalised absolute errors, times the method's scale.
Validation: consecutive FOLD-day folds of origins whose outcomes end by the ticker's val_end
(model.json), newest first; phi and the trackers' step size are chosen there. The held-out test
(after val_end) is printed once with those choices. Bench and dev only: nothing served imports
``arch``. Scores in folds before train_end read the model's in-sample errors (noted in tables).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "LSTM_predictor"))

import numpy as np  # noqa: E402
from scipy.signal import lfilter  # noqa: E402

from stockPredictor.data.sources import load as load_prices  # noqa: E402
from stockPredictor.forecast import tables  # noqa: E402
from stockPredictor.forecast.bands import halfwidths_at, term_scale, widths_at  # noqa: E402
from stockPredictor.model.registry import Registry  # noqa: E402

H = 30
LEVELS = (0.8, 0.95)
CALIBRATION = 250
REFIT = 20
FIRST_FIT = 250  # returns the first GARCH fit reads
FIRST_ORIGIN = 600  # every method's 250 calibration errors exist from here (GARCH's included)
FOLD = 630  # about 2.5 trading years of origins per validation fold
MIN_FOLD = 250
PHIS = (0.0, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 1.0)
ETAS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)


def garch_scale(closes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """sqrt of GARCH(1,1)-t's 1..h step variance sums (positions, H), refit every REFIT rows."""
    from arch import arch_model  # bench only: never imported by what is served

    r = 100 * np.diff(np.log(closes))  # r[s - 1]: the return ending at row s, in percent
    out = np.full((len(positions), H), np.nan)
    start, k = None, np.arange(H)
    for fit_row in range(FIRST_FIT, len(closes), REFIT):
        model = arch_model(r[:fit_row], mean="Constant", vol="GARCH", p=1, q=1, dist="t",
                           rescale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(disp="off", starting_values=start, show_warning=False)
        start = res.params.to_numpy()
        mu, omega, alpha, beta = (res.params[n] for n in ("mu", "omega", "alpha[1]", "beta[1]"))
        hi = min(fit_row + REFIT, len(closes))
        eps2 = (r[:hi - 1] - mu) ** 2
        # next[j]: variance of the return ending at row j + 2, known at row j + 1 (causal filter).
        init = np.mean(eps2[:50])
        nxt = lfilter([1.0], [1.0, -beta], omega + alpha * eps2, zi=[beta * init])[0]
        rows = np.arange(fit_row, hi)
        v1 = nxt[rows - 1]
        p = alpha + beta
        # var of day k ahead: omega * (1 + p + .. + p^(k-2)) + p^(k-1) * v1.
        geo = np.where(abs(1 - p) < 1e-9, k, (1 - p ** k) / (1 - p + 1e-300))
        daily = omega * geo[None, :] + (p ** k)[None, :] * v1[:, None]
        sel = np.isin(positions, rows)
        out[sel] = np.sqrt(np.cumsum(daily, axis=1) / 1e4)[np.isin(rows, positions)]
    return out


def blend_scale(closes: np.ndarray, positions: np.ndarray, phi: float) -> np.ndarray:
    """The served scale (bands.term_scale): day k weighs the EWMA variance by phi^(k-1)."""
    return term_scale(closes, positions, H, phi=phi)


def scaled_widths(positions, errors, origins, scale) -> dict:
    """Conformal half-widths (origins, H) of errors / scale, times the origins' scale."""
    q = halfwidths_at(positions, errors / scale, origins, LEVELS, CALIBRATION)
    at = scale[origins - positions[0]]
    return {lv: q[lv] * at for lv in LEVELS}


def track(base: dict, signed: np.ndarray, etas) -> dict:
    """Upper and lower half-widths (etas, origins, H) per level from quantile trackers.

    Each side's log offset moves by eta * (miss - (1 - level) / 2) when a step-h outcome made
    at origin t - h becomes known at t; the band at t is base * exp(offset).
    """
    etas = np.asarray(etas)[:, None]
    n = len(signed)
    out = {}
    for lv in LEVELS:
        half = (1 - lv) / 2
        w = base[lv]
        up, lo = np.empty((len(etas), n, H)), np.empty((len(etas), n, H))
        off_up, off_lo = np.zeros((len(etas), H)), np.zeros((len(etas), H))
        steps = np.arange(H)
        for i in range(n):
            j = i - steps - 1  # origin whose step-(h) outcome lands at origin i
            ok = j >= 0
            if ok.any():
                jj, ss = j[ok], steps[ok]
                off_up[:, ok] += etas * ((signed[jj, ss] > up[:, jj, ss]) - half)
                off_lo[:, ok] += etas * ((signed[jj, ss] < -lo[:, jj, ss]) - half)
            up[:, i] = w[i] * np.exp(off_up)
            lo[:, i] = w[i] * np.exp(off_lo)
        out[lv] = (lo, up)
    return out


def scores(signed, lo, up, lv) -> tuple[np.ndarray, np.ndarray]:
    """Interval (Winkler) score and coverage in log units, per origin and step."""
    a = 1 - lv
    width = lo + up
    below, above = np.maximum(-lo - signed, 0), np.maximum(signed - up, 0)
    return width + 2 / a * (below + above), (below == 0) & (above == 0)


def series(artifact, ticker: str) -> dict | None:
    """Every candidate's bands at every usable origin of one ticker, with the blocks to score."""
    frame = load_prices(ticker, "sample")
    closes = frame["close"].to_numpy(np.float64)
    if len(closes) < FIRST_ORIGIN + H + MIN_FOLD:
        return None
    positions = np.arange(artifact.windowing.rows_needed - 1, len(closes))
    forecasts = tables.table_for(frame, artifact).forecasts(positions, H)
    targets = positions[:, None] + np.arange(1, H + 1)
    actual = np.where(targets < len(closes), closes[np.minimum(targets, len(closes) - 1)], np.nan)
    signed = np.log(actual / forecasts)
    errors = np.abs(signed)
    origins = np.arange(FIRST_ORIGIN, len(closes) - H)
    y = signed[origins - positions[0]]
    ones = np.ones_like(errors)
    served = widths_at(closes, positions, errors, origins, LEVELS, CALIBRATION, phi=1.0)
    t0 = time.time()
    garch = garch_scale(closes, positions)
    out = {"ticker": ticker, "y": y, "garch_s": time.time() - t0, "bases": {
        "plain": scaled_widths(positions, errors, origins, ones), "ours": served,
        "garch": scaled_widths(positions, errors, origins, garch)},
        "blends": {phi: scaled_widths(positions, errors, origins,
                                      blend_scale(closes, positions, phi)) for phi in PHIS}}
    dates = frame.index
    val_end = artifact.trained_until(ticker)  # data.<ticker>.val_end: the test split follows
    val_row = int(dates.searchsorted(val_end, side="right")) - 1
    last_val = val_row - H  # an origin's outcomes must all lie by val_end
    blocks, end = {}, last_val + 1
    while end - FIRST_ORIGIN >= MIN_FOLD:
        begin = max(FIRST_ORIGIN, end - FOLD)
        name = f"val{len(blocks) + 1}"
        blocks[name] = (np.arange(begin, end) - FIRST_ORIGIN, dates[begin], dates[end - 1])
        end = begin
    test = np.arange(val_row + 1, len(closes) - H)
    if len(test):
        blocks["test"] = (test - FIRST_ORIGIN, dates[test[0]], dates[test[-1]])
    out["blocks"] = blocks
    return out


def evaluate(s, lo_up: dict, rows) -> dict:
    """Per level: per-step mean interval score and coverage on ``rows`` of one series."""
    res = {}
    for lv in LEVELS:
        lo, up = lo_up[lv]
        sc, cov = scores(s["y"][rows], lo[rows], up[rows], lv)
        res[lv] = (sc.mean(axis=0), cov.mean(axis=0))
    return res


def sym(w: dict) -> dict:
    """A symmetric band's (lower, upper) half-widths per level."""
    return {lv: (w[lv], w[lv]) for lv in LEVELS}


def summarise(all_series, cands: dict, block_pred) -> dict:
    """Per candidate and level: mean ratio to plain, share of 80% steps in 77-83%, min 95% cov."""
    table = {}
    for name, get in cands.items():
        ratios, shares, mins, per = {lv: [] for lv in LEVELS}, [], [], {}
        covs = {lv: [] for lv in LEVELS}
        for s in all_series:
            for block, (rows, _, _) in s["blocks"].items():
                if not block_pred(block):
                    continue
                mine, plain = evaluate(s, get(s), rows), evaluate(s, sym(s["bases"]["plain"]), rows)
                for lv in LEVELS:
                    ratios[lv].append(np.mean(mine[lv][0] / plain[lv][0]))
                per.setdefault(block, []).append(np.mean(mine[0.8][0] / plain[0.8][0]))
                c80, c95 = mine[0.8][1], mine[0.95][1]
                covs[0.8].append(c80)
                covs[0.95].append(c95)
                shares.append(np.mean((c80 >= 0.77) & (c80 <= 0.83)))
                mins.append(c95.min())
        table[name] = {"r80": np.mean(ratios[0.8]), "r95": np.mean(ratios[0.95]),
                       "share": np.mean(shares), "worst_share": np.min(shares),
                       "min95": np.min(mins), "cov": {lv: np.mean(covs[lv], axis=0)
                                                      for lv in LEVELS},
                       "per": {b: np.mean(v) for b, v in per.items()}}
    return table


def markdown(table: dict, blocks: list) -> str:
    """The summary as a Markdown table."""
    head = ["band", "IS/plain 80%", "IS/plain 95%", "80% cov in 77-83% (mean, worst)",
            "min 95% cov by step (worst series, mean of series)"]
    head += [f"80% ratio {b}" for b in blocks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, t in table.items():
        lines.append(f"| {name} | {t['r80']:.3f} | {t['r95']:.3f} | {t['share']:.0%}, "
                     f"{t['worst_share']:.0%} | {t['min95']:.1%}, {t['cov'][0.95].min():.1%} | "
                     + " | ".join(f"{t['per'].get(b, np.nan):.3f}" for b in blocks) + " |")
    return "\n".join(lines)


def tracked(base: str, i: int):
    """A getter of the (lower, upper) half-widths per level of ``base`` + trackers at ETAS[i]."""
    return lambda s: {lv: (s["tracked"][base][lv][0][i], s["tracked"][base][lv][1][i])
                      for lv in LEVELS}


def coverage_table(table: dict) -> str:
    """Mean-over-series coverage at steps 1, 5, 10, 20, 30 and its range over steps 1-30."""
    steps = (1, 5, 10, 20, 30)
    head = ["band", "level"] + [f"h={h}" for h in steps] + ["min-max h=1..30"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, t in table.items():
        for lv in LEVELS:
            c = t["cov"][lv]
            lines.append(f"| {name} | {lv:.0%} | " + " | ".join(f"{c[h - 1]:.1%}" for h in steps)
                         + f" | {c.min():.1%}-{c.max():.1%} |")
    return "\n".join(lines)


def main() -> None:
    """Run the study and print the validation choices and the held-out test once."""
    global PHIS, ETAS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--model", default="general")
    parser.add_argument("--quick", action="store_true", help="coarser phi and eta grids")
    args = parser.parse_args()
    if args.quick:
        PHIS, ETAS = (0.0, 0.95, 0.98, 1.0), (0.0, 0.005, 0.02)
    t0 = time.time()
    artifact = Registry(args.models).load().get(args.model)
    all_series = [s for t in artifact.tickers if (s := series(artifact, t)) is not None]
    print(f"Model {args.model}; series: " + ", ".join(
        f"{s['ticker']} (" + "; ".join(f"{b} {a.date()}..{z.date()} {len(r)}"
                                       for b, (r, a, z) in s["blocks"].items()) + ")"
        for s in all_series) + ". FB is too short for a 250-error calibration and has no "
        "test origins.\n")
    val = lambda b: b != "test"  # noqa: E731
    val_blocks = sorted({b for s in all_series for b in s["blocks"] if b != "test"})
    blend_t = summarise(all_series, {f"blend phi={p}": (lambda s, p=p: sym(s["blends"][p]))
                                     for p in PHIS}, val)
    print("Validation: blend of EWMA and long-run variance by phi (val1 = the newest fold)\n")
    print(markdown(blend_t, val_blocks))
    phi = min(PHIS, key=lambda p: blend_t[f"blend phi={p}"]["r80"]
              + blend_t[f"blend phi={p}"]["r95"])
    print(f"\nChosen phi = {phi} (lowest mean of the 80% and 95% ratios on validation).\n")
    for s in all_series:
        s["bases"]["blend"] = s["blends"][phi]
        s["tracked"] = {b: track(s["bases"][b], s["y"], ETAS) for b in ("ours", "garch", "blend")}
    chosen_eta = {}
    for base in ("ours", "garch", "blend"):
        t = summarise(all_series, {f"{base} + PID eta={e}": tracked(base, i)
                                   for i, e in enumerate(ETAS)}, val)
        print(f"Validation: {base} + quantile trackers by step size eta\n")
        print(markdown(t, val_blocks) + "\n")
        chosen_eta[base] = min(range(len(ETAS)), key=lambda i: t[f"{base} + PID eta={ETAS[i]}"][
            "r80"] + t[f"{base} + PID eta={ETAS[i]}"]["r95"])
    final = {"plain (rolling conformal)": lambda s: sym(s["bases"]["plain"]),
             "ours (EWMA flat)": lambda s: sym(s["bases"]["ours"]),
             "GARCH(1,1)-t": lambda s: sym(s["bases"]["garch"]),
             f"blend phi={phi}": lambda s: sym(s["bases"]["blend"])}
    for base in ("ours", "garch", "blend"):
        i = chosen_eta[base]
        final[f"{base} + PID eta={ETAS[i]}"] = tracked(base, i)
    print("Validation, the candidates with their chosen settings (these decide)\n")
    chosen = summarise(all_series, final, val)
    print(markdown(chosen, val_blocks))
    print("\nValidation coverage per step (mean over series and folds)\n")
    print(coverage_table(chosen))
    test = summarise(all_series, final, lambda b: b == "test")
    print("\nHeld-out test, reported once (nothing here chose anything)\n")
    print(markdown(test, ["test"]))
    print("\nTest coverage per step (mean over tickers)\n")
    print(coverage_table(test))
    print(f"\nGARCH fits: {sum(s['garch_s'] for s in all_series):.0f} s; "
          f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
