# `make run`: serving set only, forecast from the committed models on the bundled data.
# `make test`: everything, then flake8 and the whole test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.serve: $(BIN)/python requirements.txt LSTM_predictor/pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.serve requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.serve
	PRICE_SOURCE=$${PRICE_SOURCE:-sample} $(BIN)/stock-predictor predict --ticker IBM

lint: $(VENV)/.dev
	$(BIN)/flake8

pytest: $(VENV)/.dev
	$(BIN)/python -m pytest

test: lint pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_runtime.py
	$(BIN)/python bench/bench_forecast.py

clean:
	rm -rf $(VENV) .pytest_cache
