"""The web app: ``create_app()``, the module-level ``app`` for gunicorn, and the dev server.

Run it with ``python Flask_webapp/app.py``, ``flask --app Flask_webapp.app run`` or the
Procfile's gunicorn command, from the repository root. It serves through the NumPy runtime and
never imports TensorFlow.
"""

import sys

if __name__ == "__main__" and not __package__:
    # `python Flask_webapp/app.py` runs this file outside its package, so its relative imports
    # would fail. Load this folder as the package Flask_webapp and run the packaged module.
    import importlib.util
    from pathlib import Path

    _here = Path(__file__).resolve().parent
    _spec = importlib.util.spec_from_file_location(
        "Flask_webapp", _here / "__init__.py", submodule_search_locations=[str(_here)])
    sys.modules["Flask_webapp"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["Flask_webapp"])
    from Flask_webapp.app import main
    sys.exit(main())

import atexit
import datetime as dt
import gc
import logging
import os
import secrets
from collections.abc import Mapping

from flask import Flask
from stockPredictor import store
from stockPredictor.store.writer import LedgerWriter
from stockPredictor.store.prices import PriceStore
from stockPredictor.lru import ByteBoundedLRU
from stockPredictor.preload import BUNDLED_MODELS, Registry
from stockPredictor.price_cache import PriceCache
from stockPredictor.prices import SAMPLE_TICKERS, SOURCES
from threadpoolctl import threadpool_limits

from . import api, errors, forecasting, pages, security

# Settings a deployment sets through the environment (12-factor, as Heroku does).
ENVIRONMENT = ("PORT", "SECRET_KEY", "MODELS_DIR", "CACHE_DIR", "PRICE_SOURCE", "TABLE_CACHE_MB",
               "PRELOAD_TABLES", "BLAS_THREADS", "DATABASE_URL", "DATABASE_MIGRATE")
DEFAULTS = {
    "PORT": 5000,
    "MODELS_DIR": str(BUNDLED_MODELS),
    "CACHE_DIR": os.path.expanduser("~/.cache/stock-predictor"),
    "PRICE_SOURCE": "auto",
    "PRICE_TTL": 900,                      # seconds a Yahoo download is reused
    "STORE_READ_TTL": 60,                  # seconds a worker reuses what it read from the store
    # Forecast-table blocks kept per process (5 bytes per origin and step: a 13-year table is
    # 0.5 MB, a Yahoo ticker forecast at its latest date 1-2 blocks of 77 kB).
    "TABLE_CACHE_MB": 64,
    # Build the bundled sample's tables at start-up: "auto" does when PRICE_SOURCE is sample.
    "PRELOAD_TABLES": "auto",
    # OpenBLAS threads per process: one, since gunicorn runs a worker per core (0: leave it).
    "BLAS_THREADS": 1,
    # The database: $DATABASE_URL, else a SQLite file in the instance folder. Migrated at start
    # (in gunicorn's master with --preload; Heroku's release phase has done it already).
    "DATABASE_URL": "",
    "DATABASE_MIGRATE": "1",
    "MAX_CONTENT_LENGTH": 5 * 1000 * 1000,  # uploads: a decade of daily prices is ~300 kB
    "API_TITLE": "Stock predictor API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # The docs page, /api/v1/docs: Swagger UI from static/vendor (never a CDN; see api.py).
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
}


def load_config(test_config: Mapping | None = None, environ: Mapping = os.environ) -> dict:
    """Defaults, then the environment, then ``test_config``; checked before anything starts."""
    config = dict(DEFAULTS)
    config.update({key: environ[key] for key in ENVIRONMENT if environ.get(key)})
    config.update(test_config or {})
    for key in ("PORT", "TABLE_CACHE_MB", "BLAS_THREADS"):
        try:
            config[key] = int(config[key])
        except (TypeError, ValueError):
            raise ValueError(f"{key}={config[key]!r} must be a whole number") from None
    source = str(config["PRICE_SOURCE"]).strip().lower()
    if source not in SOURCES:
        raise ValueError(f"PRICE_SOURCE={config['PRICE_SOURCE']!r} must be one of "
                         f"{', '.join(SOURCES)}")
    config["PRICE_SOURCE"] = source
    preload = str(config["PRELOAD_TABLES"]).strip().lower()
    if preload not in ("auto", "1", "true", "yes", "0", "false", "no"):
        raise ValueError(f"PRELOAD_TABLES={config['PRELOAD_TABLES']!r} must be auto, 1 or 0")
    config["PRELOAD_TABLES"] = source == "sample" if preload == "auto" else preload in (
        "1", "true", "yes")
    # Without a configured key, each process gets its own: nothing here outlives a process.
    config["SECRET_KEY"] = config.get("SECRET_KEY") or secrets.token_hex(32)
    return config


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the app: configuration, the model registry (loaded once), pages, API, errors."""
    app = Flask(__name__)
    app.config.update(load_config(test_config))
    # yfinance keeps its small caches under CACHE_DIR; the package reads it from the environment.
    os.environ["CACHE_DIR"] = str(app.config["CACHE_DIR"])
    registry = Registry(app.config["MODELS_DIR"]).load()
    if not registry.names():
        app.logger.warning("no models loaded from %s: forecasts will fail until one is trained",
                           app.config["MODELS_DIR"])
    app.extensions["registry"] = registry
    app.extensions["tables"] = ByteBoundedLRU(app.config["TABLE_CACHE_MB"] * 1024 * 1024)
    database = app.extensions["database"] = _database(app)
    # Every distinct forecast served goes to the ledger, written in batches off the hot path.
    app.extensions["ledger"] = None if database.engine is None else LedgerWriter(database.engine)
    if app.extensions["ledger"] is not None:
        atexit.register(app.extensions["ledger"].close)  # what is queued is written at exit
    # Yahoo's prices go through the shared store: one fetch per ticker and interval across
    # every worker and dyno, and one back-off when Yahoo says no (Yahoo directly while the
    # database does not answer).
    price_store = None if database.engine is None else PriceStore(
        database.engine, recheck=dt.timedelta(seconds=float(app.config["PRICE_TTL"])))
    app.extensions["price_cache"] = PriceCache(
        app.config["PRICE_SOURCE"], store=price_store,
        ttl=float(app.config["STORE_READ_TTL"] if price_store else app.config["PRICE_TTL"]))
    if app.config["BLAS_THREADS"] > 0:
        # Process-wide, and inherited by the workers gunicorn forks from this process.
        threadpool_limits(limits=app.config["BLAS_THREADS"], user_api="blas")
    if app.config["PRELOAD_TABLES"] and registry.names():
        with app.app_context():
            built = forecasting.preload_tables(SAMPLE_TICKERS)
        app.logger.info("forecast tables of %s built in %.2f s", ", ".join(built),
                        sum(built.values()))
    app.register_blueprint(pages.bp)
    api.Api(app).register_blueprint(api.blp)
    app.add_url_rule("/healthz", "healthz", api.healthz)
    errors.register(app)
    security.register(app)
    return app


def _database(app: Flask) -> store.Database:
    # A database that does not answer never stops the app: it starts and serves forecasts,
    # healthz says why the database is down, and the database is used again once it answers.
    url = store.database_url(app.config["DATABASE_URL"], app.instance_path)
    migrate = str(app.config["DATABASE_MIGRATE"]).strip().lower() in ("1", "true", "yes")
    database = store.Database(url, migrate=migrate)
    if database.error:
        app.logger.warning("database %s is down: %s", store.display_url(url), database.error)
    return database


def main() -> None:
    """Serve on 127.0.0.1:$PORT with Flask's development server (debug only if asked for)."""
    logging.basicConfig(level=logging.INFO)
    debug = os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes")
    app.run(host="127.0.0.1", port=app.config["PORT"], debug=debug)


app = create_app()
# gunicorn --preload forks its workers from this process. Frozen, the objects made so far (modules,
# models, the sample's tables) are out of the collector's sight: a collection in a worker would
# otherwise write to each of them and so copy every page the workers share with the master.
gc.freeze()

if __name__ == "__main__":  # python -m Flask_webapp.app
    main()
