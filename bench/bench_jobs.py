"""Training jobs, measured through the real worker process and the real web server.

Usage: python bench/bench_jobs.py [--noop N] [--idle S ...] [--epochs N] [--parts ...]

- timeline: the DEFAULT JobSpec on IBM (the bundled sample), POSTed to /api/v1/jobs of the
  Procfile's gunicorn (two workers) with the Procfile's `stock-predictor worker` beside it, on
  the SQLite default (TRAIN_THREADS=1: one core). The job is polled every 0.1 s: submitted ->
  started -> each epoch (as its progress first shows it, and the epoch's own seconds) -> saved
  -> served by the web (the first forecast that names the new model), all from the submit.
  Also the worker's peak memory (VmHWM) when ready and after the job, and the web workers'.
- queue: the queue's own overhead, Redis (a real redis-server) against the SQLite default: N
  no-op jobs back to back (a job whose upload does not exist: the worker starts it, fails it
  at once, and takes the next), submitted as the web submits (store.jobs.create, then
  JobQueue.submit); from the database rows: submit -> started_at (the task's start) and
  submit -> finished_at (the round trip), median and p90; then single jobs after the worker
  sat idle --idle seconds, since Huey's consumer polls a non-blocking store (SQLite) ever more
  slowly while idle (initial_delay 0.1 s, x1.15 each empty poll, up to max_delay: Huey's
  default is 10 s, the worker sets cli/worker.py's POLL_MAX_S); Redis blocks on its list.
- epochs: one training epoch of the job defaults against the seed's recipe (ModelConfig and
  TrainConfig defaults) on the same IBM days, in one process with TensorFlow on one thread,
  --epochs epochs each with no early stopping; median seconds per epoch after the first (which
  traces the graph) and the ratio.
Prints Markdown tables; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadkit import print_table  # noqa: E402
from stockPredictor import store  # noqa: E402
from stockPredictor.jobs.queue import JobQueue  # noqa: E402
from stockPredictor.jobs.spec import JobSpec  # noqa: E402
from stockPredictor.settings import Settings  # noqa: E402
from stockPredictor.store import jobs  # noqa: E402

from tests.jobs_stack import (Deployment, call, new_folder, peak_kb, wait_for,  # noqa: E402
                              web_processes)

DONE = ("succeeded", "failed", "cancelled")
NO_UPLOAD = 2_000_000_000  # an upload id no database here holds: the no-op job


def _rel(moment, since: float) -> str:
    return "" if moment is None else f"{moment - since:.1f}"


def timeline() -> None:
    """The default job from submit to served, and the worker's peak memory."""
    folder = new_folder("bench-jobs-")
    deployment = Deployment(folder)
    store.upgrade(deployment.database_url)
    try:
        with ExitStack() as stack:
            web = stack.enter_context(deployment.web("web"))
            worker = deployment.start_worker()
            ready_kb = peak_kb(worker.pid)
            spec = JobSpec(ticker="IBM")
            began = time.monotonic()
            status, _, body = call(web.base, "POST", "/api/v1/jobs", {"ticker": "IBM"})
            if status != 202:
                raise SystemExit(f"the job was refused ({status}): {body}")
            token, events, last = body["token"], [("submitted (202)", 0.0, "")], None
            epoch_seen: dict[int, float] = {}
            seconds: list[float] = []
            phases: dict[str, float] = {}
            for _ in range(int(900 / 0.1)):  # at most 15 minutes
                _, _, last = call(web.base, "GET", f"/api/v1/jobs/{token}")
                now = time.monotonic() - began
                progress = last.get("progress") or {}
                if last["status"] == "running" and "running" not in phases:
                    phases["running"] = now
                if progress.get("phase") and progress["phase"] not in phases:
                    phases[progress["phase"]] = now
                for epoch in range(1, (progress.get("epoch") or 0) + 1):
                    epoch_seen.setdefault(epoch, now)
                if progress.get("seconds"):
                    seconds = progress["seconds"]
                if last["status"] in DONE:
                    break
                time.sleep(0.1)
            ended = time.monotonic() - began
            if last["status"] != "succeeded":
                raise SystemExit(f"the job ended {last['status']}: {last['reason']}")
            model = last["model"]
            served = wait_for(lambda: call(web.base, "POST", "/api/v1/forecast", {
                "ticker": "IBM", "horizon": 3, "model": model})[0] == 200, 60, 0.1)
            served_at = time.monotonic() - began if served else None
            job_kb = peak_kb(worker.pid)
            web_kb = max(peak_kb(pid) for pid in web_processes(web.pid))
    finally:
        deployment.close()
        shutil.rmtree(folder, ignore_errors=True)
    result = last["result"]
    events.append(("started (first seen running)", phases.get("running"), "worker's queued: "
                   f"{result['seconds']['queued']} s"))
    events.append(("training began", phases.get("training"),
                   f"loading {result['seconds']['loading']} s"))
    for epoch, at in sorted(epoch_seen.items()):
        own = seconds[epoch - 1] if epoch - 1 < len(seconds) else ""
        events.append((f"epoch {epoch} of {spec.epochs}", at, f"epoch took {own} s"))
    events.append(("judging", phases.get("judging"), f"training {result['seconds']['training']} s"))
    events.append(("saved (succeeded)", ended, f"judging {result['seconds']['judging']} s, saving "
                   f"{result['seconds']['saving']} s"))
    events.append(("served by the web", served_at, f"{model}; MODEL_POLL_S=1"))
    print(f"\n### A default job's timeline (IBM sample, {spec.to_dict()}; TRAIN_THREADS=1)\n")
    print_table([(name, "" if at is None else f"{at:.1f}", note) for name, at, note in events],
                ("event", "s from submit", "note"))
    print(f"\nepochs run {result['epochs_run']} of {spec.epochs} (best {result['best_epoch']}); "
          f"default for IBM: {result['is_default']}; worker total {result['seconds']['total']} s")
    print("\n### Peak memory (VmHWM)\n")
    print_table([("worker, ready (TensorFlow loaded)", f"{ready_kb / 1024:.0f}"),
                 ("worker, after the default job", f"{job_kb / 1024:.0f}"),
                 ("web (largest gunicorn process)", f"{web_kb / 1024:.0f}")],
                ("process", "MB"))


def _noop(engine, queue: JobQueue, client: str) -> tuple[float, float]:
    """One no-op job submitted as the web submits it; (start latency, round trip) in seconds."""
    record = jobs.create(engine, JobSpec(upload_id=NO_UPLOAD), client, 1000)
    submitted = time.time()
    jobs.attach_task(engine, record.token, queue.submit(record.token))
    done = wait_for(lambda: jobs.get(engine, record.token).status in DONE, 60, 0.02)
    job = jobs.get(engine, record.token)
    if not done or job.started_at is None:
        raise SystemExit(f"a no-op job did not run: {job.status} {job.reason}")
    _noop.reason = job.reason
    return job.started_at.timestamp() - submitted, job.finished_at.timestamp() - submitted


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.9 * len(values))) - 1)]


def queue_overhead(count: int, idle: list[float]) -> None:
    """No-op jobs back to back and after idle spells, on SQLite and on Redis."""
    from tests.redis_server import redis_server, unavailable

    rows, idle_rows = [], []
    kinds = ["sqlite"] + ([] if unavailable() else ["redis"])
    for kind in kinds:
        folder = new_folder(f"bench-queue-{kind}-")
        with ExitStack() as stack:
            url = stack.enter_context(redis_server()) if kind == "redis" else ""
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            deployment = Deployment(folder, redis_url=url)
            stack.callback(deployment.close)
            store.upgrade(deployment.database_url)
            engine = store.engine_for(deployment.database_url)
            stack.callback(engine.dispose)
            queue = JobQueue.open(Settings.read(deployment.env), folder / "instance")
            deployment.start_worker()
            _noop(engine, queue, "warm-up")
            runs = [_noop(engine, queue, f"client{index}") for index in range(count)]
            starts, trips = [r[0] * 1000 for r in runs], [r[1] * 1000 for r in runs]
            rows.append((kind, count, f"{statistics.median(starts):.0f}", f"{_p90(starts):.0f}",
                         f"{statistics.median(trips):.0f}", f"{_p90(trips):.0f}"))
            for seconds in idle if kind == "sqlite" else idle[-1:]:
                time.sleep(seconds)
                start, trip = _noop(engine, queue, f"idle{seconds}")
                idle_rows.append((kind, f"{seconds:g}", f"{start * 1000:.0f}",
                                  f"{trip * 1000:.0f}"))
    print("\n### Queue overhead: no-op jobs back to back, through the real worker (ms)\n")
    print_table(rows, ("queue", "N", "submit->start median", "p90", "round trip median", "p90"))
    print(f"\n(each no-op job ends failed: {getattr(_noop, 'reason', '')})")
    print("\n### After the worker sat idle (one job each, ms)\n")
    print_table(idle_rows, ("queue", "idle s", "submit->start", "round trip"))


def epoch_times(epochs: int) -> None:
    """Job defaults against the seed's recipe, one epoch's seconds, one thread (run alone)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from stockPredictor.data.sample import from_sample
    from stockPredictor.model.config import ModelConfig, TrainConfig
    from stockPredictor.training import job_callback, train
    from stockPredictor.training.networks import build_model

    if not job_callback.limit_threads(1):
        print("TensorFlow had started: not on one thread")
    spec = JobSpec(ticker="IBM")
    frame = from_sample("IBM").iloc[-spec.days:]
    recipes = {"job defaults": (spec.model_config(), spec.train_config()),
               "seed recipe": (ModelConfig(), TrainConfig())}
    rows, medians = [], {}
    for name, (model_config, train_config) in recipes.items():
        keras.utils.set_random_seed(train_config.seed)
        _, data, _ = train.prepare({"IBM": frame}, model_config, train_config, lambda _: None)
        (x_train, y_train), validation = data["train"], data["val"]
        model = build_model(model_config, n_features=x_train.shape[-1])
        model.compile(optimizer=keras.optimizers.Adam(train_config.learning_rate), loss="mse")
        marks: list[float] = []
        clock = keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda *_: marks.append(time.perf_counter()),
            on_epoch_end=lambda *_: marks.append(time.perf_counter()))
        model.fit(x_train, y_train, validation_data=validation, epochs=epochs,
                  batch_size=train_config.batch_size, shuffle=True, verbose=0,
                  callbacks=[clock])
        times = [marks[i + 1] - marks[i] for i in range(0, len(marks), 2)]
        medians[name] = statistics.median(times[1:])
        rows.append((name, f"{model_config.arch}/{model_config.target}", model_config.window,
                     model_config.units, model_config.layers, model_config.dropout,
                     train_config.batch_size, len(x_train), f"{model.count_params():,}",
                     f"{times[0]:.2f}", f"{medians[name]:.2f}"))
    print(f"\n### One epoch on IBM's newest {spec.days} days, TensorFlow on one thread "
          f"({epochs} epochs each)\n")
    print_table(rows, ("recipe", "arch/target", "window", "units", "layers", "dropout", "batch",
                       "windows", "weights", "first epoch s", "median later epoch s"))
    print(f"\njob defaults / seed recipe: "
          f"{medians['job defaults'] / medians['seed recipe']:.2f}x per epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop", type=int, default=20, help="no-op jobs per queue")
    parser.add_argument("--idle", type=float, nargs="*", default=[10, 30, 90],
                        help="idle spells before single jobs (SQLite; Redis: the last)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per recipe")
    parser.add_argument("--parts", nargs="*", default=["timeline", "queue", "epochs"],
                        choices=["timeline", "queue", "epochs", "epochs-here"])
    args = parser.parse_args()
    if "timeline" in args.parts:
        timeline()
    if "queue" in args.parts:
        queue_overhead(args.noop, args.idle)
    if "epochs" in args.parts:  # a process of its own: TensorFlow's threads set before it starts
        subprocess.run([sys.executable, __file__, "--parts", "epochs-here", "--epochs",
                        str(args.epochs)], check=True, cwd=ROOT)
    if "epochs-here" in args.parts:
        epoch_times(args.epochs)


if __name__ == "__main__":
    main()
