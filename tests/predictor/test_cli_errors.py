"""The stock-predictor command never shows a traceback: one sentence on stderr, a non-zero exit.

Most cases run cli.main in-process; a closed pipe and a real Ctrl-C need a process of their own.
"""

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys

import pytest

from stockPredictor.cli import forecast as cli_forecast
from stockPredictor.cli import build_parser, main
from stockPredictor.model import artifacts
from stockPredictor.settings import BUNDLED_MODELS

TINY = ["--window", "5", "--units", "4", "--layers", "1", "--batch-size", "32"]


def one_sentence(err: str) -> str:
    """The single ``error: ...`` line of ``err``, checked free of Python's internals."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for internal in ("Traceback", "Error:", "Errno", "File \"", "curl", "<", "self."):
        assert internal not in lines[0], lines[0]
    return lines[0]


# --- files -------------------------------------------------------------------------------------

def test_a_folder_given_as_csv(tmp_path, capsys):
    assert main(["predict", "--csv", str(tmp_path)]) == 1
    assert str(tmp_path) in one_sentence(capsys.readouterr().err)


def test_fetch_into_a_missing_folder_names_it(tmp_path, capsys):
    out = tmp_path / "missing" / "x.csv"
    assert main(["fetch", "--ticker", "IBM", "--source", "sample", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert one_sentence(captured.err) == (
        f"error: cannot write {out}: the folder {out.parent} does not exist")
    assert captured.out == ""  # refused before any work
    assert not out.parent.exists()


def test_fetch_onto_a_folder(tmp_path, capsys):
    assert main(["fetch", "--ticker", "IBM", "--source", "sample", "--out", str(tmp_path)]) == 1
    assert "it is a folder" in one_sentence(capsys.readouterr().err)


def test_a_write_that_fails_midway_is_one_sentence(tmp_path, capsys, monkeypatch):
    import pandas as pd

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")  # errno.ENOSPC

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "x.csv"
    assert main(["fetch", "--ticker", "IBM", "--source", "sample", "--out", str(out)]) == 1
    assert one_sentence(capsys.readouterr().err) == f"error: cannot write {out}: the disk is full"


def test_evaluate_plot_into_a_missing_folder(tmp_path, capsys):
    png = tmp_path / "nope" / "b.png"
    assert main(["evaluate", "--ticker", "IBM", "--source", "sample", "--models",
                 str(BUNDLED_MODELS), "--plot", str(png)]) == 1
    assert f"the folder {png.parent} does not exist" in one_sentence(capsys.readouterr().err)


def test_a_missing_models_folder_is_named(tmp_path, capsys):
    assert main(["predict", "--ticker", "IBM", "--source", "sample", "--models",
                 str(tmp_path / "nope")]) == 1
    assert one_sentence(capsys.readouterr().err) == (
        f"error: the models folder {tmp_path / 'nope'} does not exist")


# --- whatever else reaches the top -------------------------------------------------------------

def fail_with(monkeypatch, exc):
    def command(args):
        raise exc
    monkeypatch.setattr(cli_forecast, "cmd_list_models", command)


@pytest.mark.parametrize("exc, status, expected", [
    (PermissionError(13, "Permission denied", "/srv/models/x"), 1,
     "error: cannot use /srv/models/x: permission denied"),
    (OSError(5, "Input/output error"), 1, "error: a file or connection failed: input/output error"),
    (MemoryError(), 1, "error: out of memory; try fewer or shorter price series, or smaller "
                       "settings"),
    (ZeroDivisionError("division by zero"), 70,
     "error: unexpected ZeroDivisionError; this is a bug; please report it (run again with "
     "STOCK_PREDICTOR_DEBUG=1 to see where it happened)"),
    (KeyboardInterrupt(), 130, "error: interrupted"),
])
def test_other_failures_are_one_sentence(monkeypatch, capsys, exc, status, expected):
    monkeypatch.delenv("STOCK_PREDICTOR_DEBUG", raising=False)
    fail_with(monkeypatch, exc)
    assert main(["list-models"]) == status
    assert one_sentence(capsys.readouterr().err) == expected


def test_debug_keeps_the_traceback_of_a_bug(monkeypatch):
    monkeypatch.setenv("STOCK_PREDICTOR_DEBUG", "1")
    fail_with(monkeypatch, ZeroDivisionError("division by zero"))
    with pytest.raises(ZeroDivisionError):
        main(["list-models"])


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly():
    # The reader is gone before the first byte is written: the write fails with EPIPE.
    process = subprocess.Popen(
        [sys.executable, "-m", "stockPredictor.cli", "predict", "--ticker", "IBM", "--source",
         "sample", "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert err == b""


# --- dates -------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["predict --as-of", "evaluate --start", "evaluate --end"])
@pytest.mark.parametrize("value", ["01/02/2012", "31/12/2012", "2012-1-2", "20120102",
                                   "2012-02-30", "yesterday", "1899-12-31"])
def test_dates_are_iso_days_only(capsys, command, value):
    name, option = command.split()
    with pytest.raises(SystemExit) as exited:
        main([name, "--ticker", "IBM", "--source", "sample", option, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {option}: " in err and value in err and "YYYY-MM-DD" in err


def test_an_as_of_in_the_future_is_refused_like_the_api(capsys):
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(SystemExit) as exited:
        main(["predict", "--ticker", "IBM", "--source", "sample", "--as-of", str(tomorrow)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert f"{tomorrow} is in the future" in err


def test_an_as_of_of_today_is_moved_to_the_last_price(capsys):
    today = dt.date.today()
    assert main(["predict", "--ticker", "IBM", "--source", "sample", "--as-of", str(today),
                 "--horizon", "1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["as_of"] == "2013-03-01"
    assert out["notices"][-1] == (f"The prices end on 2013-03-01, before the as-of date {today}, "
                                  f"so the forecast is made from 2013-03-01.")


# --- train refuses bad settings before TensorFlow loads -----------------------------------------

@pytest.mark.parametrize("option, value, says", [
    ("--epochs", "0", "epochs=0 must be an integer from 1 to"),
    ("--epochs", "1.5", "epochs='1.5' is not a whole number"),
    ("--units", "0", "units=0 must be an integer from 1 to"),
    ("--units", "-4", "units=-4"),
    ("--layers", "0", "layers=0"),
    ("--window", "1", "window=1 must be an integer from 2 to"),
    ("--batch-size", "0", "batch_size=0"),
    ("--patience", "-1", "patience=-1"),
    ("--dropout", "1", "dropout=1.0 must be in [0, 1)"),
    ("--dropout", "-0.1", "dropout=-0.1"),
    ("--dropout", "nan", "dropout=nan"),
    ("--learning-rate", "0", "learning_rate=0.0 must be in (0, 1)"),
    ("--learning-rate", "-1e-3", "learning_rate=-0.001"),
    ("--learning-rate", "fast", "learning_rate='fast' is not a number"),
    ("--seed", "-1", "seed=-1 must be a whole number from 0 to"),
])
def test_bad_training_settings_are_refused_before_tensorflow(monkeypatch, capsys, tmp_path,
                                                             option, value, says):
    # Importing any of these now fails: a refusal that came after them could not pass.
    for module in ("tensorflow", "keras", "stockPredictor.train"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(SystemExit) as exited:
        main(["train", "--ticker", "IBM", "--source", "sample", f"{option}={value}",
              "--out", str(tmp_path / "m")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {option}: {says}" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("kind", ["file", "folder of other things"])
def test_train_refuses_an_out_it_would_destroy(monkeypatch, capsys, tmp_path, kind):
    monkeypatch.setitem(sys.modules, "stockPredictor.train", None)
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("mine")
        says = "it is a file; name a folder"
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        says = "it is a folder that holds something other than a model"
    assert main(["train", "--ticker", "IBM", "--source", "sample", "--out", str(out)]) == 1
    assert f"error: cannot write {out}: {says}" in one_sentence(capsys.readouterr().err)
    assert (out if kind == "file" else out / "notes.txt").read_text() == "mine"


def test_good_training_settings_pass_the_parser():
    args = build_parser().parse_args(
        ["train", "--ticker", "IBM", "--epochs", "1", "--dropout", "0", "--patience", "0",
         "--learning-rate", "0.01", "--seed", "0", "--out", "m"])
    assert (args.epochs, args.dropout, args.patience, args.learning_rate, args.seed) == (
        1, 0.0, 0, 0.01, 0)


# --- Ctrl-C during train ------------------------------------------------------------------------

def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.slow
def test_ctrl_c_while_fitting_saves_nothing(monkeypatch, tmp_path, capsys):
    from stockPredictor.training import train

    def interrupt(self, epoch, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.Progress, "on_epoch_end", interrupt)
    assert main(["train", "--ticker", "IBM", "--source", "sample", *TINY, "--epochs", "2",
                 "--out", str(tmp_path / "models" / "m")]) == 130
    assert one_sentence(capsys.readouterr().err) == (
        "error: training interrupted; no model was saved")
    assert leftovers(tmp_path / "models") == []


@pytest.mark.slow
def test_ctrl_c_while_saving_leaves_no_temporary_folder(monkeypatch, tmp_path, capsys):
    real_dump = artifacts.joblib.dump

    def interrupt(scaler, path, *args, **kwargs):
        real_dump(scaler, path, *args, **kwargs)
        assert (path.parent / artifacts.MODEL_FILE).exists()  # halfway through the folder
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts.joblib, "dump", interrupt)
    models = tmp_path / "models"
    models.mkdir()
    assert main(["train", "--ticker", "IBM", "--source", "sample", *TINY, "--epochs", "1",
                 "--out", str(models / "m")]) == 130
    assert "no model was saved" in one_sentence(capsys.readouterr().err)
    assert leftovers(models) == []


@pytest.mark.slow
def test_a_real_ctrl_c_during_training(tmp_path):
    out = tmp_path / "models" / "m"
    process = subprocess.Popen(
        [sys.executable, "-m", "stockPredictor.cli", "train", "--ticker", "IBM", "--source",
         "sample", *TINY, "--epochs", "500", "--patience", "500", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fitting = next((line for line in process.stdout if line.startswith("epoch ")), "")
        assert fitting.startswith("epoch 1/500")
    finally:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err == "error: training interrupted; no model was saved\n"
    assert leftovers(tmp_path / "models") == []


# --- Yahoo out of reach ------------------------------------------------------------------------

def noisy(yf, error):
    """A failure as yfinance gives it offline: its log lines first, then the exception."""
    def history(*args, **kwargs):
        log = yf.utils.get_yf_logger()
        log.warning("Cookie/crumb fetch failed (DNSError), continuing without crumb")
        log.error("Failed to get ticker 'IBM' reason: curl: (6) Could not resolve host")
        raise error
    return history


@pytest.mark.parametrize("make_error, expected", [
    (lambda yf: __import__("curl_cffi").requests.exceptions.DNSError(
        "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. See "
        "https://curl.se/libcurl/c/libcurl-errors.html first for more details."),
     "error: Yahoo Finance could not be reached"),
    (lambda yf: yf.exceptions.YFRateLimitError(),
     "error: Yahoo Finance is rate limiting requests"),
    (lambda yf: KeyError("chart"), "error: Yahoo Finance sent a reply that could not be read"),
])
def test_yahoo_failures_are_one_plain_sentence(yf, fake_yahoo, monkeypatch, capsys, caplog,
                                               make_error, expected):
    fake_yahoo(None)
    monkeypatch.setattr(yf.Ticker, "history", noisy(yf, make_error(yf)))
    caplog.set_level(logging.DEBUG)
    assert main(["fetch", "--ticker", "IBM", "--source", "yahoo"]) == 1
    captured = capsys.readouterr()
    assert one_sentence(captured.err) == expected and captured.out == ""
    # yfinance's own lines stay out of the terminal (and of any log handler).
    assert not [r for r in caplog.records if r.name.startswith("yfinance")]


def test_auto_offline_falls_back_quietly(yf, fake_yahoo, monkeypatch, capsys):
    from curl_cffi.requests.exceptions import DNSError

    fake_yahoo(None)
    monkeypatch.setattr(yf.Ticker, "history", noisy(yf, DNSError("curl: (6) Could not resolve")))
    assert main(["fetch", "--ticker", "IBM", "--source", "auto"]) == 0
    captured = capsys.readouterr()
    assert "(source: sample)" in captured.out
    assert "crumb" not in captured.err and "curl" not in captured.err


def test_yfinance_is_silenced_for_real(yf):
    # The real logger, as prices.import_yfinance leaves it: nothing below CRITICAL gets out.
    assert not logging.getLogger("yfinance").isEnabledFor(logging.ERROR)
    assert os.environ["PRICE_SOURCE"] == "sample"  # and no test here reaches Yahoo
