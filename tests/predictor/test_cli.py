"""The stock-predictor command end to end: fetch, train, predict, evaluate, list-models."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from stockPredictor.cli import main
from stockPredictor.data.csv import read_csv
from stockPredictor.data.sample import from_sample
from stockPredictor.data.sources import load as load_prices
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

pytestmark = pytest.mark.slow  # trains through the CLI and starts a subprocess

TINY = ["--window", "5", "--units", "4", "--layers", "1", "--epochs", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def ibm_csv(tmp_path_factory):
    """IBM's bundled prices written by `fetch --out`, the Yahoo export layout."""
    path = tmp_path_factory.mktemp("csv") / "ibm.csv"
    assert main(["fetch", "--ticker", "IBM", "--source", "sample", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def cli_models(tmp_path_factory, ibm_csv):
    """A models folder with one tiny general model trained through the CLI."""
    folder = tmp_path_factory.mktemp("cli-models")
    code = main(["train", "--ticker", "IBM", "--ticker", "MSFT", "--source", "sample", *TINY,
                 "--out", str(folder / "general")])
    assert code == 0
    return folder


def test_fetch_writes_a_csv_that_reads_back(ibm_csv, capsys):
    frame = pd.read_csv(ibm_csv)
    assert list(frame.columns) == ["Date", "Open", "High", "Low", "Close", "Volume"]
    assert frame["Date"].iloc[-1] == "2013-03-01"


def test_train_prints_progress_and_writes_an_artifact(cli_models):
    meta = json.loads((cli_models / "general" / "model.json").read_text())
    assert meta["scope"] == "general" and meta["tickers"] == ["IBM", "MSFT"]
    assert meta["data"]["IBM"]["source"] == "sample"


def test_predict_json_for_a_ticker(cli_models, capsys):
    capsys.readouterr()
    code = main(["predict", "--ticker", "IBM", "--source", "sample", "--horizon", "3",
                 "--models", str(cli_models), "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    # The forecast report's document: the API's answer without the page address.
    assert set(out) == {"ticker", "model", "as_of", "source", "last_close", "horizon", "level",
                        "forecast", "bands", "actual", "outcome", "baselines", "track_record",
                        "model_info", "data", "notices", "kind", "summary"}
    assert out["notices"] == ["These are the bundled sample prices, which end on 2013-03-01: "
                              "not current prices."]
    assert out["ticker"] == "IBM" and out["model"] == "general" and out["source"] == "sample"
    assert [row["date"] for row in out["forecast"]] == ["2013-03-04", "2013-03-05", "2013-03-06"]
    assert out["level"] == 0.8
    assert all(row["low"] < row["close"] < row["high"] for row in out["forecast"])


def test_predict_csv_and_table_for_a_csv_file(cli_models, ibm_csv, capsys):
    capsys.readouterr()
    assert main(["predict", "--csv", str(ibm_csv), "--as-of", "2012-12-21", "--horizon", "4",
                 "--models", str(cli_models), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "date,forecast,low,high,actual"  # the page's download, the same file
    assert [line.split(",")[0] for line in lines[1:]] == [
        "2012-12-24", "2012-12-26", "2012-12-27", "2012-12-28"]  # Christmas is skipped
    assert main(["predict", "--csv", str(ibm_csv), "--models", str(cli_models)]) == 0
    table = capsys.readouterr().out
    assert "model general" in table and "80% band" in table
    # The page's plain sentences, then the record's verdict.
    assert re.search(r"^IBM: .* expected .*The 80% band on \d{4}-\d\d-\d\d runs from", table, re.M)


def test_a_coin_priced_below_a_cent_keeps_its_digits(cli_models, ibm_csv, tmp_path, capsys):
    frame = pd.read_csv(ibm_csv)
    scale = 0.0000212345 / frame["Close"].iloc[-1]
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("Date,Close\n" + "\n".join(
        f"{d},{c * scale:.10g}" for d, c in zip(frame["Date"], frame["Close"])) + "\n")
    capsys.readouterr()
    assert main(["predict", "--csv", str(tiny), "--horizon", "2", "--models", str(cli_models),
                 "--format", "csv"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
    # Four decimals would write 0.0; six significant digits keep the coin's price.
    assert all(float(value) > 0 and len(value.lstrip("0.").replace(".", "")) >= 5
               for row in rows for value in row[1:4]), rows
    assert all(row[4] == "" for row in rows)  # no actual close after the last price
    assert main(["predict", "--csv", str(tiny), "--horizon", "2",
                 "--models", str(cli_models)]) == 0
    assert "last close 0.00002123 on 2013-03-01" in capsys.readouterr().out


def test_list_models(cli_models, capsys):
    capsys.readouterr()
    assert main(["list-models", "--models", str(cli_models), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed["models"]] == ["general"] and listed["skipped"] == {}


@pytest.mark.parametrize("argv,message", [
    (["predict", "--ticker", "../etc/passwd"], "ticker"),
    (["predict", "--ticker", "NOPE", "--source", "sample"], "NOPE"),
    (["predict", "--ticker", "IBM", "--source", "sample", "--horizon", "31"], "horizon=31"),
    (["predict", "--ticker", "IBM", "--source", "sample", "--as-of", "1900-01-01"],
     "1900-01-01 is too early"),
])
def test_bad_input_gets_a_clear_error(cli_models, capsys, argv, message):
    capsys.readouterr()
    assert main([*argv, "--models", str(cli_models)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("level", ["0.7", "1.2", "abc", "2"])
def test_a_band_level_outside_the_offered_ones_is_an_argparse_error(command, level, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command, "--ticker", "IBM", "--source", "sample", "--level", level])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--level" in err and level in err and "0.95" in err


def test_predict_with_a_95_band_is_wider_than_with_a_50_band(cli_models, capsys):
    bands = {}
    for level in ("0.5", "0.95"):
        capsys.readouterr()
        assert main(["predict", "--ticker", "IBM", "--source", "sample", "--horizon", "3",
                     "--models", str(cli_models), "--format", "json", "--level", level]) == 0
        bands[level] = json.loads(capsys.readouterr().out)
    narrow, wide = bands["0.5"], bands["0.95"]
    assert narrow["level"] == 0.5 and wide["level"] == 0.95
    assert [r["close"] for r in narrow["forecast"]] == [r["close"] for r in wide["forecast"]]
    for n, w in zip(narrow["forecast"], wide["forecast"]):
        assert w["low"] < n["low"] < n["close"] < n["high"] < w["high"]


def test_console_script_runs_with_the_committed_models():
    result = subprocess.run([sys.executable, "-m", "stockPredictor.cli", "predict", "--ticker",
                             "IBM", "--source", "sample", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["model"] == "ibm" and len(out["forecast"]) == 4
    assert 0.5 < out["forecast"][0]["close"] / out["last_close"] < 1.5


def test_train_from_a_csv_file(ibm_csv, tmp_path, capsys):
    assert main(["train", "--csv", str(ibm_csv), *TINY, "--target", "minmax",
                 "--out", str(tmp_path / "mine")]) == 0
    meta = json.loads((tmp_path / "mine" / "model.json").read_text())
    assert meta["tickers"] == ["IBM"] and meta["scope"] == "ticker"
    assert meta["target"] == "minmax" and meta["data"]["IBM"]["source"] == "csv"
    out = capsys.readouterr().out
    assert "epoch 1/1" in out
    # It ends with its test-period backtest against naive, in words.
    last = out.splitlines()[-1]
    assert last.startswith("On its held-out test period (") and "naive" in last
    days = pd.read_csv(ibm_csv)["Date"]
    test_start = days[days > meta["data"]["IBM"]["val_end"]].iloc[0]
    assert f"({test_start} to {meta['data']['IBM']['test_end']})" in last
    assert "at 1 trading day ahead (" in last and " at 30 (" in last
    assert "p = " in last or "p < " in last or "serves the naive forecast" in last


def test_the_same_ticker_twice_is_refused(tmp_path, capsys):
    assert main(["train", "--ticker", "IBM", "--ticker", "ibm", "--source", "sample",
                 "--out", str(tmp_path / "x")]) == 1
    assert "'IBM' is given more than once" in capsys.readouterr().err


def test_evaluate_json_out_and_plot(tmp_path, capsys):
    capsys.readouterr()
    out, png = tmp_path / "backtest.csv", tmp_path / "backtest.png"
    assert main(["evaluate", "--ticker", "IBM", "--models", str(BUNDLED_MODELS),
                 "--horizon", "5", "--start", "2012-06-01", "--stride", "2", "--format", "json",
                 "--out", str(out), "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert {"ticker", "horizon", "origins", "start", "end", "level", "models"} <= set(data)
    assert data["ticker"] == "IBM" and data["horizon"] == 5 and data["level"] == 0.8
    assert data["start"] == "2012-06-01" and data["trained_until"] == "2011-03-18"
    assert set(data["models"]) == {"ibm", "ibm (raw)", "naive", "drift", "long_run_drift",
                                   "moving_average"}
    for values in data["models"].values():
        assert set(values) == {"mae", "rmse", "mape", "mae_vs_naive", "p_value_vs_naive",
                               "directional_accuracy", "coverage", "interval_score",
                               "mae_relative", "mae_relative_vs_naive", "interval_score_log"}
        assert all(len(v) == 5 for v in values.values())
    # The ibm model serves no change at every step: exactly naive, so p = 1 against it.
    assert data["models"]["ibm"]["mae_vs_naive"] == [1.0] * 5
    assert data["models"]["ibm"]["p_value_vs_naive"] == [1.0] * 5
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["origin", "date", "step", "model", "forecast", "actual",
                                  "low", "high"]
    assert len(rows) == data["origins"] * 5 * len(data["models"])
    assert png.read_bytes()[:4] == b"\x89PNG" and f"wrote {png}" in captured.err


def test_evaluate_table_names_origins_inside_the_training_period(capsys):
    capsys.readouterr()
    assert main(["evaluate", "--ticker", "IBM", "--source", "sample", "--model", "general",
                 "--models", str(BUNDLED_MODELS), "--horizon", "12", "--start", "2011-01-03",
                 "--end", "2011-06-30"]) == 0
    out = capsys.readouterr().out
    assert "MAE/naive" in out and "coverage" in out
    steps = [line.split()[0] for line in out.splitlines()[2:] if line[:4].strip().isdigit()]
    assert steps == ["1", "5", "10", "12"]
    assert "origins lie inside the model's training period (to 2011-03-18)" in out


@pytest.mark.parametrize("argv,message", [
    (["--start", "2013-02-27"], "holds no origin for a 4-day backtest of IBM"),
    (["--stride", "0"], "stride=0"),
])
def test_evaluate_bad_input_gets_a_clear_error(capsys, argv, message):
    capsys.readouterr()
    assert main(["evaluate", "--ticker", "IBM", "--models", str(BUNDLED_MODELS), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


@pytest.fixture
def walk_models(tiny_artifact, walk, tmp_path):
    """A private models folder holding a copy of the tiny WALK model, and two price CSVs."""
    models = tmp_path / "models"
    shutil.copytree(tiny_artifact.path, models / "walk")
    csvs = []
    for ticker, scale in (("WALK", 1.0), ("OTHER", 7.0)):
        frame = walk.copy()
        frame.iloc[:, :4] *= scale  # a second ticker at another price level
        path = tmp_path / f"{ticker}.csv"
        frame.assign(adj_close=frame["close"]).rename(
            columns={"adj_close": "Adj Close"}).rename(columns=str.title)[
            ["Open", "High", "Low", "Close", "Adj Close", "Volume"]].rename_axis(
            "Date").to_csv(path, float_format="%.6f")
        csvs += ["--csv", str(path)]
    return models, csvs


def test_evaluate_pools_several_tickers_and_records_into_model_json(walk_models, capsys):
    models, csvs = walk_models
    before = json.loads((models / "walk" / "model.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", *csvs, "--models", str(models), "--model", "walk", "--horizon", "3",
                 "--record", "--format", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert [b["ticker"] for b in data["backtests"]] == ["WALK", "OTHER"]
    assert data["pooled"]["tickers"] == ["WALK", "OTHER"] and data["pooled"]["horizon"] == 3
    assert f"wrote {models / 'walk' / 'model.json'}" in captured.err
    meta = artifacts.verify(models / "walk")
    recorded = meta.pop("backtest")
    assert meta == before  # nothing else changed, checksums included
    assert recorded == dict(data["pooled"], created_at=recorded["created_at"])
    assert recorded["origins"] == sum(b["origins"] for b in data["backtests"])
    assert len(recorded["mae_vs_naive"]) == 3 and recorded["level"] == 0.8
    assert main(["evaluate", *csvs, "--models", str(models), "--model", "walk",
                 "--horizon", "3"]) == 0
    assert "pooled over WALK, OTHER" in capsys.readouterr().out


def test_record_needs_one_model_and_out_needs_one_ticker(walk_models, tmp_path, capsys):
    models, csvs = walk_models
    shutil.copytree(models / "walk", models / "general")  # OTHER falls back to "general"
    artifacts.update_metadata(models / "general", scope="general")
    before = (models / "walk" / "model.json").read_bytes()
    capsys.readouterr()
    assert main(["evaluate", *csvs, "--models", str(models), "--horizon", "3", "--record"]) == 1
    assert "WALK: walk, OTHER: general" in capsys.readouterr().err
    assert main(["evaluate", *csvs, "--models", str(models), "--model", "walk", "--horizon", "3",
                 "--out", str(tmp_path / "x.csv")]) == 1
    assert "--out and --plot take one ticker" in capsys.readouterr().err
    assert (models / "walk" / "model.json").read_bytes() == before
    assert not (tmp_path / "x.csv").exists()


def test_fit_policy_adds_a_policy_without_retraining(tmp_path, capsys):
    shutil.copytree(BUNDLED_MODELS / "ibm", tmp_path / "ibm")
    before = artifacts.verify(tmp_path / "ibm")
    h5 = (tmp_path / "ibm" / "model.h5").read_bytes()
    assert main(["fit-policy", "--model", str(tmp_path / "ibm")]) == 0
    out = capsys.readouterr().out
    after = artifacts.verify(tmp_path / "ibm")  # still verifies: the weights are untouched
    assert (tmp_path / "ibm" / "model.h5").read_bytes() == h5
    assert after["files"] == before["files"]
    entry = after["policy"]
    assert entry["fitted_on"] == "validation folds" and entry["tickers"] == ["IBM"]
    assert entry["method"] == "constant-shrinkage" and len(set(entry["weights"])) == 1
    assert len(entry["weights"]) == 30 and entry["end"] <= before["data"]["IBM"]["val_end"]
    assert "point policy (constant-shrinkage" in out and "wrote" in out
    # The former rule on request: a weight per step, with its evidence per step.
    assert main(["fit-policy", "--model", str(tmp_path / "ibm"), "--form", "per-step"]) == 0
    entry = artifacts.verify(tmp_path / "ibm")["policy"]
    assert entry["fitted_on"] == "validation" and len(entry["evidence"]) == 30
    assert "point policy fitted on validation data" in capsys.readouterr().out


def test_fit_policy_refuses_a_ticker_the_model_never_saw(tmp_path, capsys):
    shutil.copytree(BUNDLED_MODELS / "ibm", tmp_path / "ibm")
    assert main(["fit-policy", "--model", str(tmp_path / "ibm"), "--ticker", "MSFT",
                 "--source", "sample"]) == 1
    assert "was not trained on MSFT" in capsys.readouterr().err


def test_an_as_of_after_the_last_price_is_moved_with_a_note(cli_models, capsys):
    args = ["predict", "--ticker", "IBM", "--source", "sample", "--horizon", "2",
            "--models", str(cli_models), "--as-of", "2013-05-01"]
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    note = ("The prices end on 2013-03-01, before the as-of date 2013-05-01, so the forecast is "
            "made from 2013-03-01.")
    sample = "These are the bundled sample prices, which end on 2013-03-01: not current prices."
    assert captured.err == f"note: {sample}\nnote: {note}\n"  # the API's notices, in order
    assert "on 2013-03-01" in captured.out and note not in captured.out
    assert main([*args, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["notices"] == [sample, note] and captured.err == ""


@pytest.mark.parametrize("folder", ["parent", "artifact"])
def test_models_takes_an_artifact_folder_or_its_parent(cli_models, capsys, folder):
    models = cli_models if folder == "parent" else cli_models / "general"
    capsys.readouterr()
    assert main(["predict", "--ticker", "MSFT", "--source", "sample", "--horizon", "2",
                 "--models", str(models), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "general"
    assert main(["list-models", "--models", str(models), "--format", "json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)["models"]] == ["general"]


def test_evaluate_plot_draws_three_panels_with_distinct_lines(tmp_path):
    from stockPredictor.forecast import evaluate, plot

    ibm = artifacts.load(BUNDLED_MODELS / "ibm")
    result = evaluate.backtest(load_prices("IBM", "sample"), ibm, horizon=5, start="2012-06-01")
    fig = plot.save(result, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history, ratio, coverage = fig.axes
    lines = history.get_lines()
    assert [line.get_label() for line in lines] == [
        "actual close", "ibm, 1 day ahead", "ibm (raw), 1 day ahead",
        "naive (last close), 1 day ahead"]
    # Told apart by colour, and again by dash or marker for a reader who cannot see colour.
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == len(lines)
    assert len({(line.get_linestyle(), line.get_marker()) for line in lines}) == len(lines)
    assert history.get_legend() is not None
    scores = result.metrics()

    def drawn(ax):
        return {line.get_label(): line.get_ydata() for line in ax.get_lines()}

    by_step = drawn(ratio)
    assert list(by_step.pop("naive = 1")) == [1.0, 1.0]  # axhline: naive's reference
    assert set(by_step) == set(result.forecasts) - {"naive"}
    for name, values in by_step.items():
        np.testing.assert_allclose(values, scores[name]["mae_vs_naive"])
    covered = drawn(coverage)
    assert list(covered.pop("nominal 80%")) == [80.0, 80.0]
    assert set(covered) == set(result.forecasts)
    for name, values in covered.items():
        np.testing.assert_allclose(values, 100 * scores[name]["coverage"])
    for ax in (ratio, coverage):
        assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]
        assert ax.get_legend() is not None


def test_help_texts_are_plain_and_train_states_every_default(capsys):
    from stockPredictor.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert "``" not in sub.format_help(), name
    assert "``" not in parser.format_help()
    train = commands["train"]
    text = " ".join(train.format_help().split())
    for action in train._actions:
        if action.default is not None and action.option_strings != ["-h", "--help"]:
            assert action.help, action.dest
            assert f"(default: {action.default})" in text, action.dest
    assert "(default: ticker for one ticker, general for several)" in text


def test_a_csv_files_notices_go_to_stderr_or_into_the_json(tmp_path, capsys):
    newest_first = tmp_path / "IBM.csv"
    from_sample("IBM").iloc[-300:].iloc[::-1].rename(columns=str.title).rename_axis(
        "Date").to_csv(newest_first)
    notices = read_csv(newest_first).attrs["notices"]
    assert notices  # the file was fixed, and says so
    args = ["predict", "--csv", str(newest_first), "--models", str(BUNDLED_MODELS),
            "--horizon", "1"]
    for command in (args, ["fetch", "--csv", str(newest_first)]):
        capsys.readouterr()
        assert main(command) == 0
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [f"note: {n}" for n in notices]
        assert not any(n in captured.out for n in notices)
    assert main([*args, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["notices"] == notices and captured.err == ""
