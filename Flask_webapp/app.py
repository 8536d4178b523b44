"""The web app's factory, ``create_app()``, and the development server.

Run it with ``python Flask_webapp/app.py``, ``flask --app Flask_webapp.app run`` (Flask finds
the factory) or the Procfile's gunicorn command, which serves ``Flask_webapp.wsgi:app``, from the
repository root. Importing this module builds nothing: the app, its models and its database
exist once ``create_app`` is called. It serves through the NumPy runtime and never imports
TensorFlow.
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
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, request
from stockPredictor import store
from stockPredictor.data.csv import MAX_UPLOAD_BYTES
from stockPredictor.data.sample import SAMPLE_TICKERS
from stockPredictor.forecast.report import ORIGINS_KEPT
from stockPredictor.jobs.queue import JobQueue
from stockPredictor.lru import BoundedCache, ByteBoundedLRU
from stockPredictor.model.registry import Registry
from stockPredictor.settings import ENVIRONMENT, Settings
from stockPredictor.store import ledger
from stockPredictor.store.live import LiveRecords
from stockPredictor.store.price_cache import price_cache
from stockPredictor.store.trained import TrainedModels
from stockPredictor.store.writer import LedgerWriter
from threadpoolctl import threadpool_limits

from . import (api, api_jobs, api_watchlists, assets, errors, origins, pages, rate_limits,
               security, services, training_pages, watchlist_pages)

# Flask's own settings (not the deployment's, which stockPredictor.settings reads).
FLASK_DEFAULTS = {
    "MAX_CONTENT_LENGTH": MAX_UPLOAD_BYTES,
    "API_TITLE": "Stock predictor API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # The docs page, /api/v1/docs: Swagger UI from static/vendor (never a CDN; see api.py),
    # under a content-hashed folder name that assets.register puts here.
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
}


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the app: settings, the model registry (loaded once), the database, pages, API.

    ``test_config`` overrides settings by their variable's name (PRICE_SOURCE, ...) and sets
    Flask's own (TESTING, MAX_CONTENT_LENGTH, ...); the environment comes in between.
    """
    overrides = dict(test_config or {})
    settings = Settings.read(os.environ, overrides)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve())
                if settings.instance_path else None)
    app.config.update(FLASK_DEFAULTS, SECRET_KEY=settings.key, DEBUG=settings.debug)
    app.config.update({k: v for k, v in overrides.items() if k not in ENVIRONMENT})
    # Answers keep the order the package builds them in (a forecast's fields before its long
    # track record): readable, and a quarter cheaper to write than sorted keys.
    app.json.sort_keys = False
    app.extensions["settings"] = settings
    # Static files hashed, compressed and cached far ahead; before the Api, which reads the
    # Swagger UI folder's hashed address from the config.
    assets.register(app, settings.cache_dir)
    registry = Registry(settings.models_dir).load()
    if not registry.names():
        app.logger.warning("no models loaded from %s: forecasts will fail until one is trained",
                           settings.models_dir)
    app.extensions["registry"] = registry
    app.extensions["tables"] = ByteBoundedLRU(settings.table_cache_bytes)
    # What forecasts at one origin share (band widths, track records' figures), by model and
    # prices up to as_of: every horizon and level asked there reads them.
    app.extensions["shared"] = BoundedCache(ORIGINS_KEPT)
    database = app.extensions["database"] = _database(app, settings)
    # Models trained by workers, from the database: all of them now (a fresh dyno starts with
    # every one), then whatever is new, looked for before a request at most every MODEL_POLL_S.
    app.extensions["trained"] = None if database.engine is None else TrainedModels(
        database.engine, settings.cache_dir / "trained", settings.model_poll_s)
    if app.extensions["trained"] is not None:
        app.extensions["trained"].refresh(registry, force=True)
        app.before_request(_refresh_trained)
    # Every distinct forecast served goes to the ledger, written in batches off the hot path.
    app.extensions["ledger"] = None if database.engine is None else LedgerWriter(
        database.engine, interval=settings.ledger_flush_s, capacity=settings.ledger_queue_size,
        retry_max=settings.ledger_retry_max_s)
    if app.extensions["ledger"] is not None:
        # What is queued is written at exit: a gunicorn worker leaves by sys.exit() on SIGTERM
        # and on --max-requests recycling alike, so atexit runs there (tests/webapp/
        # test_ledger_durability.py stops the Procfile server both ways and checks).
        atexit.register(app.extensions["ledger"].close)
    # The ledger keys each worker queued lately: a live forecast's entry is built once a day.
    app.extensions["ledger_keys"] = ledger.Queued()
    app.extensions["live_records"] = LiveRecords()
    app.extensions["price_cache"] = price_cache(settings, database.engine)
    if settings.blas_threads > 0:
        # Process-wide, and inherited by the workers gunicorn forks from this process.
        threadpool_limits(limits=settings.blas_threads, user_api="blas")
    if settings.preloads and registry.names():
        with app.app_context():
            built = services.preload_tables(SAMPLE_TICKERS)
        app.logger.info("forecast tables of %s built in %.2f s", ", ".join(built),
                        sum(built.values()))
    # Training jobs go to the queue (Redis at REDIS_URL, else SQLite in the instance folder);
    # a worker process runs them, never this one.
    app.extensions["jobs"] = JobQueue.open(settings, Path(app.instance_path))
    app.register_blueprint(pages.bp)
    app.register_blueprint(training_pages.bp)
    app.register_blueprint(watchlist_pages.bp)
    rest = api.Api(app)
    rest.register_blueprint(api.blp)
    rest.register_blueprint(api_jobs.blp)
    rest.register_blueprint(api_watchlists.blp)
    app.add_url_rule("/healthz", "healthz", api.healthz)
    errors.register(app)
    security.register(app)
    # Cross-site requests refused: the form's CSRF token, the API's Origin check.
    origins.register(app)
    # Requests per client, by kind (README: "Rate limits").
    rate_limits.register(app)
    return app


def _refresh_trained() -> None:
    # Static files and the health check are not forecasts: they never pay for a poll.
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    if endpoint in ("static", "healthz") or request.path.startswith("/static/"):
        return
    services.trained_models().refresh(services.registry())


def _database(app: Flask, settings: Settings) -> store.Database:
    # A database that does not answer never stops the app: it starts and serves forecasts,
    # healthz says why the database is down, and the database is used again once it answers.
    url = store.database_url(settings.database_url, app.instance_path)
    database = store.Database(url, migrate=settings.database_migrate)
    if database.error:
        app.logger.warning("database %s is down: %s", store.display_url(url), database.error)
    return database


def main() -> None:
    """Serve on 127.0.0.1:$PORT with Flask's development server (debug only if asked for)."""
    logging.basicConfig(level=logging.INFO)
    app = create_app()
    app.run(host="127.0.0.1", port=app.extensions["settings"].port, debug=app.debug)


if __name__ == "__main__":  # python -m Flask_webapp.app
    main()
