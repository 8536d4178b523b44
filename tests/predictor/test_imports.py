"""Serving never imports TensorFlow or Keras."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["stockPredictor", "stockPredictor.runtime",
                                    "stockPredictor.preload", "stockPredictor.predict",
                                    "stockPredictor.cli"])
def test_serving_modules_do_not_import_tensorflow(module):
    code = (f"import sys, {module}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_public_api_is_sorted_and_importable():
    import stockPredictor

    assert stockPredictor.__all__ == sorted(stockPredictor.__all__)
    for name in stockPredictor.__all__:
        assert getattr(stockPredictor, name) is not None
