"""Fuzzing the JSON API from its own OpenAPI document: no 5xx, every answer as documented.

schemathesis reads /api/v1/openapi.json (written by flask-smorest from the same schemas that
validate requests) through the WSGI app, with no server and no network, and sends each operation
valid and invalid requests. Every built-in check runs: above all ``not_a_server_error`` and the
conformance checks (status code, content type, headers and body as documented).

A fixed seed and derandomized hypothesis keep CI repeatable and quick (a few seconds). To dig
deeper locally: ``FUZZ_EXAMPLES=1000 FUZZ_SEED=7 .venv/bin/pytest tests/webapp/test_fuzz.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import schemathesis
from hypothesis import settings

from Flask_webapp.app import create_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 25))
CONFIG = schemathesis.Config.from_dict({
    "seed": int(os.environ.get("FUZZ_SEED", 20130301)),
    "generation": {"max-examples": EXAMPLES, "deterministic": True},
    # A schema-valid request can still be refused for what it means: an unknown ticker (404),
    # start after end, an as_of before the ticker's data or a file that holds no prices (422).
    # What it must never get is a refusal of its form: 400, 405, 413 or 415. The fuzzer is one
    # client, so its second valid training job meets "one job per client at a time" (429).
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 404, 422, 429,
                                                                  503]}},
    # schemathesis sends requests' default Accept-Encoding (gzip, deflate, ...) but its WSGI
    # transport does not decode what comes back, and the app compresses JSON answers
    # (Flask-Compress); the answers' documents are what is checked here, so ask for them plain.
    "headers": {"Accept-Encoding": "identity"},
})


def _app():
    # Built at import: schemathesis' lazy loader (schemathesis.pytest.from_fixture) reads a
    # private attribute that pytest 9 removed. create_app exports CACHE_DIR; put it back after.
    # The database is a new SQLite file beside the cache, never the instance folder's.
    cache = tempfile.mkdtemp(prefix="fuzz-cache-")
    atexit.register(shutil.rmtree, cache, True)
    before = os.environ.get("CACHE_DIR")
    try:
        # RATE_LIMITS=0: the fuzzer floods from one address on purpose (hundreds of forecasts a
        # minute); a 429 would hide what it looks for. tests/webapp/test_limits.py tests them.
        return create_app({"TESTING": True, "PRICE_SOURCE": "sample", "CACHE_DIR": cache,
                           "PRELOAD_TABLES": False, "RATE_LIMITS": "0",
                           "INSTANCE_PATH": cache,  # the job queue's SQLite file
                           "DATABASE_URL": f"sqlite:///{os.path.join(cache, 'fuzz.db')}"})
    finally:
        if before is None:
            os.environ.pop("CACHE_DIR", None)
        else:
            os.environ["CACHE_DIR"] = before


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _app(), config=CONFIG)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
def test_the_api_answers_as_documented(case):
    case.call_and_validate()
