"""A training run in a worker thread, with its progress kept under a lock for a UI to poll.

The app keeps one TrainingJob per browser session; nothing here knows about Streamlit, so the same object is
driven by tests and could back any other front end.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import torch

from . import checkpoints
from .config import TrainConfig
from .data import Dataset
from .train import RunControl, train


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state, safe to read without the lock."""

    status: str  # running, paused, stopping, done, stopped, failed
    config: TrainConfig
    steps: list[tuple[int, float]]  # (global step, mean loss since the previous point)
    epochs: list[dict]
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0
    lr: float = 0.0
    device: str = ""
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    save_error: str | None = None
    test_acc: float | None = None
    lr_changes: list[dict] = field(default_factory=list)
    insight: list[dict] = field(default_factory=list)  # per epoch: first-layer filters, 2-D projection

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    @property
    def eta_s(self) -> float | None:
        if not self.samples_per_s or not self.total_steps or self.finished:
            return None
        return (self.total_steps - self.step) * self.config.batch_size / self.samples_per_s


_running_jobs = 0
_running_lock = threading.Lock()


def _share_cores() -> None:
    """Gives this worker thread its share of the CPU cores, keeping one for the server and the browser. Torch's
    thread count is per calling thread, and an OpenMP team waits at every op for its slowest thread: on this
    2-core machine a two-thread step ran 10-70x slower whenever anything else (a page refresh, another job)
    used a core, while a one-thread step only loses the second core."""
    global _running_jobs
    with _running_lock:
        _running_jobs += 1
        torch.set_num_threads(max(1, ((os.cpu_count() or 1) - 1) // _running_jobs))


def _release_cores() -> None:
    global _running_jobs
    with _running_lock:
        _running_jobs -= 1


class TrainingJob:
    def __init__(self, config: TrainConfig, store: checkpoints.CheckpointStore | None = None,
                 dataset: Dataset | None = None, name: str | None = None, log_every: int = 25,
                 insight: bool = False):
        self.config = config.validated()
        self.store = store or checkpoints.CheckpointStore()
        self.dataset = dataset
        self.name = name
        self.log_every = log_every
        self.insight = insight
        self.control = RunControl()
        self.model = None  # the trained model once the run ends (done or stopped)
        self._lock = threading.Lock()
        self._snap = JobSnapshot("running", self.config, [], [])
        self._thread = threading.Thread(target=self._run, name="fmnist-train", daemon=True)
        self.created = time.time()

    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def _update(self, **changes) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._snap, k, v)

    def _run(self) -> None:
        _share_cores()
        try:  # Linux niceness is per thread: background training must not starve the server that serves pages
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        try:
            for ev in train(self.config, self.dataset, self.control, log_every=self.log_every,
                            insight=self.insight):
                with self._lock:
                    self._apply(ev)
                if ev.kind == "done":
                    self._finish(ev.result)
        except Exception as exc:  # train() reports its own failures; this catches our bookkeeping's
            self._update(status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            _release_cores()

    def _apply(self, ev) -> None:
        s = self._snap
        if ev.kind == "step":
            s.steps.append((ev.step, ev.loss))
            s.step, s.total_steps, s.epoch = ev.step, ev.total_steps, ev.epoch
            s.samples_per_s, s.elapsed_s, s.lr = ev.samples_per_s, ev.elapsed_s, ev.lr
        elif ev.kind == "epoch":
            s.epochs.append(ev.as_dict())
            s.elapsed_s = ev.elapsed_s
            if ev.insight is not None:
                s.insight.append(ev.insight)
        elif ev.kind == "note":
            s.notes.append(ev.message)
        elif ev.kind == "failed":
            s.status, s.error = "failed", ev.reason
        elif ev.kind == "done":
            s.device, s.test_acc = ev.result.device, ev.result.test_acc
            s.lr_changes = list(ev.result.lr_changes)

    def _finish(self, result) -> None:
        """Saves the run; a failed save keeps every metric in the job and says why."""
        self.model = result.model
        meta = checkpoints.build_meta(result.config, result.history, result.test_acc, result.test_loss,
                                      result.elapsed_s, result.device, stopped=result.stopped,
                                      best_epoch=result.best_epoch, lr_changes=result.lr_changes,
                                      command="the fmnist app's Train page")
        status = "stopped" if result.stopped else "done"
        try:
            name = self.name or self.store.unique_name(result.config, result.test_acc)
            path = self.store.save_new(name, result.model, meta)
            self._update(status=status, checkpoint=path.name.removesuffix(checkpoints.SUFFIX))
        except (checkpoints.CheckpointError, OSError) as exc:
            self._update(status=status, save_error=f"{exc}. The run's metrics are kept in this session.")

    # Controls, safe from any thread.
    def pause(self) -> None:
        if not self.snapshot().finished:
            self.control.pause()
            self._update(status="paused")

    def resume(self) -> None:
        if not self.snapshot().finished:
            self.control.resume()
            self._update(status="running")

    def stop(self) -> None:
        if not self.snapshot().finished:
            self.control.stop()
            self._update(status="stopping")

    def set_lr_scale(self, scale: float) -> None:
        """Shown on the charts at once; the trainer's own record (with the exact step) replaces it at the end."""
        self.control.set_lr_scale(scale)
        with self._lock:
            self._snap.lr_changes.append({"step": self._snap.step, "epoch": self._snap.epoch, "scale": scale})

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = self._snap
            return JobSnapshot(**{**s.__dict__, "steps": list(s.steps), "epochs": list(s.epochs),
                                  "notes": list(s.notes), "lr_changes": list(s.lr_changes),
                                  "insight": list(s.insight)})

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stops the worker and drops the model: what a closed browser tab calls."""
        self.control.stop()
        self.join(timeout)
        self.model = None
