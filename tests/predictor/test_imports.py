"""Importing does nothing but import: no TensorFlow where it serves, no file, no model, no
database, no warnings filter and no environment variable, from any module."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["stockPredictor", "stockPredictor.model.runtime",
                                    "stockPredictor.model.registry",
                                    "stockPredictor.forecast.report", "stockPredictor.cli",
                                    "stockPredictor.store.ledger", "Flask_webapp.app"])
def test_serving_modules_do_not_import_tensorflow(module):
    code = (f"import sys, {module}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


IMPORT_EVERYTHING = textwrap.dedent("""
    import gc, json, os, pkgutil, sys, threading, warnings
    import importlib

    sys.path.insert(0, ROOT)
    # The libraries first: some install warnings filters of their own (scipy.special does).
    for library in ("numpy", "pandas", "scipy.special", "sklearn.preprocessing", "h5py",
                    "joblib", "holidays", "sqlalchemy", "alembic", "flask", "flask_smorest",
                    "marshmallow", "webargs", "threadpoolctl"):
        importlib.import_module(library)
    filters, environ = list(warnings.filters), dict(os.environ)
    threads = threading.active_count()
    import stockPredictor, Flask_webapp
    names = []
    for package in (stockPredictor, Flask_webapp):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            # training imports Keras and forecast.plot matplotlib, which write caches of their
            # own; wsgi builds the app, on purpose; migrations run only inside Alembic.
            if ".training" in info.name or info.name.endswith((".wsgi", ".plot")) or \\
                    ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
            names.append(info.name)
    artifacts = [o for o in gc.get_objects()
                 if type(o).__name__ in ("Artifact", "Flask", "Engine", "Database")]
    added = [str(f) for f in warnings.filters if f not in filters]
    print(json.dumps({"modules": names, "filters": added,
                      "environ": dict(os.environ) == environ,
                      "threads": threading.active_count() - threads,
                      "objects": [type(o).__name__ for o in artifacts]}))
""")


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def test_importing_any_module_does_no_work(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    instance = ROOT / "instance"
    before = _files(instance)
    code = IMPORT_EVERYTHING.replace("ROOT", repr(str(ROOT)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=work,
                            env={"HOME": str(home), "PATH": "/usr/bin:/bin",
                                 "PRICE_SOURCE": "sample"})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found["modules"]) > 40  # every room of the house was imported
    assert found["filters"] == [] and found["environ"]  # no warnings filter, no variable written
    assert found["threads"] == 0 and found["objects"] == []  # no app, model or database
    assert _files(home) == set() and _files(work) == set()  # no file, no cache folder
    assert _files(instance) == before  # nothing migrated


def test_importing_the_training_modules_writes_no_environment_variable():
    # TensorFlow sets a few of its own as it loads (TF2_BEHAVIOR, KMP_*): Keras first.
    code = ("import os, keras; before = dict(os.environ); import stockPredictor.training.train; "
            "import stockPredictor.training.policy_fit; print(dict(os.environ) == before)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_public_api_is_sorted_and_importable():
    import stockPredictor

    assert stockPredictor.__all__ == sorted(stockPredictor.__all__)
    for name in stockPredictor.__all__:
        assert getattr(stockPredictor, name) is not None
