"""Slow clients do not hold the Procfile server's workers: others are answered meanwhile."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bench.slow_clients import FORECAST, HEALTH, SlowClients, probe
from tests.webapp.test_procfile import procfile_web_command

BODY_TRICKLERS = 50
HEADER_TRICKLERS = 10
WITHIN = 2.0         # the goal for a health check and a forecast, seconds
FINISH_WITHIN = 30.0  # a 32-byte body at 4 bytes every 2 s takes 14 s; headers get 10 s


def test_tricklers_leave_health_and_forecasts_answered_and_end_without_a_500(serve, free_port):
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # the venv's gunicorn, as Heroku's PATH has it
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PRICE_SOURCE": "sample",
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    total = BODY_TRICKLERS + HEADER_TRICKLERS
    with serve(procfile_web_command(), port, env=env):
        # Bodies of 32 bytes: the JSON or form request, padded, so each can finish in 14 s.
        with SlowClients(port, total, headers_share=HEADER_TRICKLERS / total, body_bytes=32,
                         seconds=FINISH_WITHIN + 5) as slow:
            time.sleep(3.0)  # every trickler has sent its headers, or its first header line
            assert slow.outcomes()["open"] == total, slow.outcomes()
            answers = probe(port, [HEALTH, FORECAST] * 3, timeout=10.0)
            late = [(path, status, round(seconds, 2)) for path, status, seconds in answers
                    if status != 200 or seconds > WITHIN]
            assert not late, f"answered late or not at all while {total} tricklers were open"
            deadline = time.monotonic() + FINISH_WITHIN
            for _ in range(int(FINISH_WITHIN * 4)):  # bounded in count and in time
                if not slow.outcomes()["open"] or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            outcomes = slow.outcomes()
    answered = {kind: n for kind, n in outcomes.items() if kind.startswith("answered")}
    assert outcomes["open"] == 0, outcomes
    assert not [kind for kind in answered if kind.startswith("answered 5")], outcomes
    # The header tricklers never finish their headers: the server closes them; the body
    # tricklers finish theirs and each gets an answer (200, or a 4xx from /predict's form).
    assert outcomes["closed"] == HEADER_TRICKLERS, outcomes
    assert sum(answered.values()) == BODY_TRICKLERS, outcomes
