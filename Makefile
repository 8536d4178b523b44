# `make run`: serving set only; the web app on http://127.0.0.1:5000 with the committed models
# and the bundled data (set PRICE_SOURCE=auto to try Yahoo first).
# `make run-training`: the training set too (TensorFlow), and `stock-predictor worker` beside the
# app, so that /train's jobs run; Ctrl-C stops both.
# `make test`: everything, then flake8 and the whole test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run run-training test lint pytest bench clean postgresql redis-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.serve: $(BIN)/python requirements.txt LSTM_predictor/pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.train: $(VENV)/.serve requirements-train.txt
	$(BIN)/pip install --quiet -r requirements-train.txt
	touch $@

$(VENV)/.dev: $(VENV)/.train requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.serve
	PRICE_SOURCE=$${PRICE_SOURCE:-sample} $(BIN)/python Flask_webapp/app.py

# The app and one worker, sharing the instance folder (SQLite database and job queue) and the
# cache folder. When the app stops (Ctrl-C), the worker gets SIGTERM: a running job is stopped
# and queued again, and the recipe waits for the worker to exit.
run-training: $(VENV)/.train
	@export PRICE_SOURCE=$${PRICE_SOURCE:-sample} INSTANCE_PATH=$${INSTANCE_PATH:-$(CURDIR)/instance} \
	    CACHE_DIR=$${CACHE_DIR:-$$HOME/.cache/stock-predictor}; mkdir -p "$$INSTANCE_PATH"; \
	$(BIN)/stock-predictor worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/python Flask_webapp/app.py

lint: $(VENV)/.dev
	$(BIN)/flake8
	$(BIN)/lint-imports --no-cache

# The browser tests drive Debian's chromium (never a Playwright download).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi

# The store's tests start Debian's PostgreSQL as the postgres user; without it they skip, saying so.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	else echo "The PostgreSQL tests need Debian's postgresql: sudo apt-get install postgresql"; fi

# The rate limits' tests start Debian's redis-server (one over TLS, with openssl's certificate);
# without them they skip, saying so.
redis-server:
	@if command -v redis-server >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server openssl; \
	else echo "The Redis tests need Debian's redis-server: sudo apt-get install redis-server"; fi

pytest: $(VENV)/.dev /usr/bin/chromium postgresql redis-server
	$(BIN)/python -m pytest

test: lint pytest

bench: $(VENV)/.dev postgresql /usr/bin/chromium redis-server
	$(BIN)/python bench/bench_request.py
	$(BIN)/python bench/bench_runtime.py
	$(BIN)/python bench/bench_forecast.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/bench_load.py --blas --databases sqlite postgresql none
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_upload.py
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/bench_abuse.py
	$(BIN)/python bench/bench_jobs.py
	$(BIN)/python bench/bench_watchlist.py

clean:
	rm -rf $(VENV) .pytest_cache
