"""Heroku's packaging agrees with itself: app.json against Heroku's own schema, its formation,
env and add-ons against the Procfile and the settings, the worker's container (heroku.yml,
Dockerfile.worker) against the Procfile and the Python version, and the requirements' layers."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from stockPredictor import settings

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(__file__).parent / "vendor"
SCHEMA = VENDOR / "heroku-mcp-server" / "app-json.schema.json"


def app_json() -> dict:
    """The repository's app.json."""
    return json.loads((ROOT / "app.json").read_text())


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip()
            for name, command in (line.split(":", 1) for line in lines if line.strip())}


def schema_errors(document: object) -> list[str]:
    """What Heroku's schema (draft 7, formats checked) says is wrong with ``document``."""
    validator = jsonschema_rs.Draft7Validator(json.loads(SCHEMA.read_text()),
                                              validate_formats=True)
    return [f"{'/'.join(map(str, error.instance_path)) or '(top)'}: {error.message}"
            for error in validator.iter_errors(document)]


def requirement_lines(name: str) -> list[str]:
    """A requirements file's lines, without comments and blank lines."""
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_vendored_schema_is_the_published_one():
    # tests/webapp/vendor/README.md records the files as published in @heroku/mcp-server 1.2.8.
    record = (VENDOR / "README.md").read_text()
    sums = dict((name, digest) for digest, name in re.findall(
        r"^([0-9a-f]{64})  tests/webapp/vendor/(heroku-mcp-server/\S+)$", record, re.M))
    assert set(sums) == {"heroku-mcp-server/app-json.schema.json",
                         "heroku-mcp-server/LICENSE.txt"}
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (VENDOR / "heroku-mcp-server" / "LICENSE.txt").read_text()


def test_app_json_is_valid_against_herokus_schema():
    assert schema_errors(app_json()) == []


@pytest.mark.parametrize("change, where", [
    ({"formation": {"web": {"size": "standard-1x"}}}, "formation/web"),      # no quantity
    ({"formation": {"web": {"quantity": 1, "size": "huge"}}}, "formation/web/size"),
    ({"env": {"SECRET_KEY": {"generator": "random"}}}, "env/SECRET_KEY/generator"),
    ({"repository": "not a url"}, "repository"),
    ({"stack": "cedar-14"}, "stack"),
    ({"procfile": "web: gunicorn"}, "(top)"),                                 # not an app.json key
])
def test_the_schema_check_refuses_what_heroku_would(change, where):
    errors = schema_errors({**app_json(), **change})
    assert any(error.startswith(f"{where}:") for error in errors), errors


def test_the_formation_names_the_procfiles_process_types():
    formation = app_json()["formation"]
    assert set(formation) == set(procfile()) - {"release"}  # release runs once per deploy
    assert formation["web"]["quantity"] >= 1
    # The web app's slug has no TensorFlow: its worker process type stays at 0 dynos and the
    # worker runs as the container app of heroku.yml.
    assert formation["worker"]["quantity"] == 0


def test_the_env_names_real_settings_and_generates_the_secrets():
    env = app_json()["env"]
    assert set(env) <= set(settings.ENVIRONMENT), set(env) - set(settings.ENVIRONMENT)
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert env["TRAINING_TOKEN"]["generator"] == "secret"
    chosen = settings.Settings.read({"PRICE_SOURCE": env["PRICE_SOURCE"]["value"]})
    assert chosen.price_source == env["PRICE_SOURCE"]["value"]  # a value the settings accept


def test_the_addons_set_the_urls_the_settings_read():
    addons = {addon["plan"].split(":")[0]: addon for addon in app_json()["addons"]}
    assert set(addons) == {"heroku-postgresql", "heroku-redis"}
    # an attachment named X sets X_URL on the app
    urls = {f"{addons[name]['as']}_URL" for name in ("heroku-postgresql", "heroku-redis")}
    assert urls == {"DATABASE_URL", "REDIS_URL"} and urls <= set(settings.ENVIRONMENT)
    assert app_json()["buildpacks"] == [{"url": "heroku/python"}]


def test_the_worker_container_runs_the_procfiles_worker_on_the_same_python():
    manifest = yaml.safe_load((ROOT / "heroku.yml").read_text())
    dockerfile = ROOT / manifest["build"]["docker"]["worker"]
    assert manifest["run"]["worker"] == procfile()["worker"] == "stock-predictor worker"
    text = dockerfile.read_text()
    version = (ROOT / ".python-version").read_text().strip()
    assert re.search(rf"^FROM python:{re.escape(version)}-slim$", text, re.M)
    assert re.search(r"^RUN pip install -r requirements-train\.txt", text, re.M)
    assert re.search(r'^CMD \["stock-predictor", "worker"\]$', text, re.M)


def test_the_requirements_are_layered_serving_training_dev():
    serving, training, dev = (requirement_lines(name) for name in
                              ("requirements.txt", "requirements-train.txt",
                               "requirements-dev.txt"))
    assert not [line for line in serving if re.match(r"(tensorflow|keras)\b", line)]
    assert training[0] == "-r requirements.txt"
    assert {line.split("==")[0] for line in training[1:]} == {"tensorflow-cpu", "keras"}
    assert all(re.fullmatch(r"[\w-]+==[\w.]+", line) for line in training[1:])
    assert dev[0] == "-r requirements-train.txt"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_training_starts_a_worker_beside_the_app_and_stops_it():
    plan = subprocess.run(["make", "-n", "run-training"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "pip install --quiet -r requirements-train.txt" in plan or \
        (ROOT / ".venv" / ".train").exists()
    assert re.search(r"stock-predictor worker & worker=\$!", plan)
    assert "kill -TERM $worker" in plan and "Flask_webapp/app.py" in plan
