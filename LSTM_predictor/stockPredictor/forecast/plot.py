"""The picture of a walk-forward backtest that ``stock-predictor evaluate --plot`` writes.

Three panels: the closes with the one-day-ahead forecasts and the model's band; each method's
MAE relative to naive at every step, with naive's line at 1; each method's band coverage at
every step, with the nominal level's line. Every method keeps one colour, dash and marker in all
three panels, so a line can be told apart in print and by a reader who does not see colour.

matplotlib is a dev tool, not part of the serving set: this module is imported only to plot.
The Figure API on an Agg canvas leaves pyplot's global state (and any GUI backend) alone.
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

# (colour, dash, marker) per method in the order a Backtest lists them; the actual closes are
# drawn in solid black, which no method uses.
STYLES = (("tab:blue", "-", "o"), ("tab:purple", "--", "s"), ("tab:orange", ":", "^"),
          ("tab:green", "-.", "v"), ("tab:red", (0, (8, 2, 1, 2, 1, 2)), "D"),
          ("tab:brown", (0, (3, 3)), "x"))
REFERENCE = {"color": "0.35", "lw": 1, "ls": "-", "zorder": 1}


def draw(result) -> Figure:
    """The three-panel figure of ``result`` (an evaluate.Backtest), not yet saved."""
    fig = Figure(figsize=(11, 11), layout="constrained")
    FigureCanvasAgg(fig)
    history, ratio, coverage = fig.subplots(3, 1, height_ratios=(2, 1, 1))
    styles = dict(zip(result.forecasts, cycle(STYLES)))
    _history(history, result, styles)
    scores = result.metrics()
    steps = np.arange(1, result.horizon + 1)
    for name, (color, dash, marker) in styles.items():
        style = {"color": color, "ls": dash, "marker": marker, "ms": 4, "lw": 1.2, "label": name}
        if name != "naive":  # naive's own ratio is the reference line
            ratio.plot(steps, scores[name]["mae_vs_naive"], **style)
        coverage.plot(steps, 100 * np.asarray(scores[name]["coverage"], float), **style)
    ratio.axhline(1.0, label="naive = 1", **REFERENCE)
    ratio.set_ylabel("MAE / naive MAE")
    ratio.set_title("Error relative to naive by step (below 1: better than naive)")
    coverage.axhline(100 * result.level, label=f"nominal {result.level:.0%}", **REFERENCE)
    shares = np.concatenate([[100 * result.level]] + [
        100 * np.asarray(scores[name]["coverage"], float) for name in styles])
    lowest = np.nanmin(shares)  # the level itself is never NaN
    coverage.set_ylim(max(0.0, 10 * np.floor(lowest / 10) - 10), 100)
    coverage.set_ylabel(f"{result.level:.0%} band coverage, %")
    coverage.set_title(f"Share of actual closes inside the {result.level:.0%} band, by step")
    for ax in (ratio, coverage):
        ax.set_xlabel("step (trading days ahead)")
        ax.set_xlim(0.5, result.horizon + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small", ncol=2)
    return fig


def _history(ax, result, styles: dict) -> None:
    ax.plot(result.closes.index, result.closes.to_numpy(), color="black", ls="-", lw=1.4,
            label="actual close", zorder=3)
    dates = result.dates[:, 0]
    model = next(iter(result.forecasts))
    color = styles[model][0]
    ax.fill_between(dates, result.lows[model][:, 0], result.highs[model][:, 0], color=color,
                    alpha=0.15, lw=0, label=f"{model}: {result.level:.0%} band")
    # Enough markers to name a line in print, few enough not to hide it; each line's start at
    # another offset, so lines that coincide (a model serving "no change") still show theirs.
    every = max(1, len(dates) // 12)
    shown = [name for name in (model, f"{model} (raw)", "naive") if name in result.forecasts]
    for i, name in enumerate(shown):
        color, dash, marker = styles[name]
        label = "naive (last close)" if name == "naive" else name
        ax.plot(dates, result.forecasts[name][:, 0], color=color, ls=dash, lw=1.1,
                marker=marker, ms=4, markevery=(i * every // len(shown), every),
                label=f"{label}, 1 day ahead")
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylabel("close")
    ax.set_title(f"{result.ticker}: walk-forward backtest of {result.model}, "
                 f"{len(result.origins)} origins")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def save(result, path) -> Figure:
    """Write the PNG of ``result`` to ``path`` (whatever its name ends with); its Figure."""
    fig = draw(result)
    fig.savefig(path, dpi=100, format="png")
    return fig
