"""``python -m stockPredictor.cli``: the stock-predictor command."""

import sys

from . import main

sys.exit(main())
