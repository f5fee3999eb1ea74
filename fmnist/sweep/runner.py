"""A sweep whose trials are the app's training jobs, several at once: what the Sweep page starts.

Each trial is a fmnist.runs.jobs.TrainingJob (the same run slots as the Train page); a background thread asks the study
for trials, starts up to `parallel` jobs, reports each finished epoch to the pruner, stops pruned jobs and tells
the study how each ended. Nothing here knows about Streamlit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from fmnist.config import TrainConfig
from fmnist.messages import N_
from fmnist.runs.jobs import JobSnapshot, TrainingJob, max_runs
from fmnist.store import checkpoints
from fmnist.sweep.space import Param
from fmnist.sweep.study import TrialOutcome, TrialRun, grid_done, mark_best, trial_name

POLL_S = 0.2


@dataclass
class LiveTrial:
    """A trial in progress, for the page's table."""

    number: int
    params: dict
    snapshot: JobSnapshot


class ParallelSweep:
    def __init__(self, study: optuna.Study, base: TrainConfig, params: Sequence[Param], trials: int,
                 store: checkpoints.CheckpointStore, parallel: int | None = None):
        self.study, self.base, self.params, self.trials = study, base, list(params), trials
        self.store = store
        self.parallel = max(1, min(parallel or max_runs(), max_runs()))
        self.outcomes: list[TrialOutcome] = []
        self.error: str | None = None
        self._active: dict[int, tuple[TrialRun, TrainingJob]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fmnist-sweep", daemon=True)
        self.started = time.time()

    def start(self) -> ParallelSweep:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends every running trial (each recorded as failed and queued again); no new trial starts."""
        self._stop.set()
        with self._lock:
            for _, job in self._active.values():
                job.stop()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def live(self) -> list[LiveTrial]:
        with self._lock:
            return [LiveTrial(n, run.params, job.snapshot()) for n, (run, job) in sorted(self._active.items())]

    def _loop(self) -> None:
        asked = 0
        try:
            while True:
                while (not self._stop.is_set() and asked < self.trials and len(self._active) < self.parallel
                       and not grid_done(self.study)):
                    asked += 1
                    self._launch()
                if not self._active:
                    return
                for number, (run, job) in list(self._active.items()):
                    self._poll(number, run, job)
                time.sleep(POLL_S)
        except Exception as exc:  # the storage went away, most likely: say so on the page, leave nothing running
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            for _number, (run, job) in list(self._active.items()):
                job.close()
                if not run.finished:
                    self._safely(run.stopped)

    def _launch(self) -> None:
        run = TrialRun(self.study, self.base, self.params)
        error = run.config_error()
        if error:
            self.outcomes.append(run.fail(N_("invalid combination: {error}").format(error=error)))
            return
        job = TrainingJob(run.config, store=self.store, name=trial_name(run.number), meta=run.meta())
        with self._lock:
            self._active[run.number] = (run, job)
        job.start()

    def _poll(self, number: int, run: TrialRun, job: TrainingJob) -> None:
        snap = job.snapshot()
        for row in snap.epochs[len(run.history):]:
            if row.get("val_acc") is not None and run.epoch(row):
                job.stop()
        if not snap.finished:  # a job says done or stopped once its checkpoint is saved
            return
        with self._lock:
            del self._active[number]
        self.outcomes.append(self._finish(run, snap))

    def _finish(self, run: TrialRun, snap: JobSnapshot) -> TrialOutcome:
        path = self.store.root / (snap.checkpoint + checkpoints.SUFFIX) if snap.checkpoint else None
        if snap.status == "failed":
            return run.fail(snap.error or N_("the run failed"))
        if run.pruned or snap.status == "stopped":
            if path is not None:
                path.unlink(missing_ok=True)  # only finished trials keep a checkpoint
            return run.complete(snap.test_acc, None) if run.pruned else run.stopped()
        outcome = run.complete(snap.test_acc, str(path) if path else None)
        if outcome.state == "COMPLETE":
            mark_best(self.study, self.store)
        return outcome

    @staticmethod
    def _safely(fn) -> None:
        try:
            fn()
        except Exception:  # the storage is gone: nothing more can be recorded
            pass
