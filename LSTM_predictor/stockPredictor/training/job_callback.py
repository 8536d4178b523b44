"""What a training job adds to Keras' fit: progress each epoch, and a way to stop it mid-epoch.

A job (jobs/worker.py) is cancelled from a web page, stopped by its time limit, or stopped with
its worker (SIGTERM). Keras' own ``model.stop_training`` waits for the epoch to end, which on a
long series is many seconds; raising from ``on_train_batch_end`` leaves ``fit`` at once, and
nothing has been written by then (the artifact is saved after ``fit`` returns).
"""

from __future__ import annotations

import time
from typing import Callable

import keras

from ..errors import StockPredictorError

CHECK_EVERY_S = 0.5  # the most often ``should_stop`` is asked: it may read a flag others set

# epoch (1-based), epochs, loss, val_loss, seconds the epoch took
EpochReport = Callable[[int, int, float, float, float], None]


class JobStopped(StockPredictorError):
    """A job stopped before it finished; ``reason`` is the sentence its page shows."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class JobCallback(keras.callbacks.Callback):
    """Reports each epoch through ``report`` and raises JobStopped when ``should_stop`` says why.

    ``should_stop`` returns None to go on, or the sentence saying why the job stops. It is asked
    after a batch at most every CHECK_EVERY_S seconds, and at every epoch's end.
    """

    def __init__(self, epochs: int, report: EpochReport, should_stop: Callable[[], str | None],
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.epochs, self.report, self.should_stop, self.clock = epochs, report, should_stop, \
            clock
        self._asked = clock()
        self._epoch_start = clock()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        if now - self._asked >= CHECK_EVERY_S:
            self._asked = now
            self._check()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.report(epoch + 1, self.epochs, float(logs.get("loss", float("nan"))),
                    float(logs.get("val_loss", float("nan"))), self.clock() - self._epoch_start)
        self._asked = self.clock()
        self._check()

    def _check(self) -> None:
        reason = self.should_stop()
        if reason:
            raise JobStopped(reason)


def limit_threads(threads: int) -> bool:
    """Have TensorFlow use ``threads`` threads for its ops (0: its default); before any op runs.

    False when TensorFlow has already started its thread pools (they cannot be resized then).
    """
    if threads <= 0:
        return True
    import tensorflow as tf  # loaded with keras already

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True
