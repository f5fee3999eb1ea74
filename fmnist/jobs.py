"""A training run in a worker thread, with its progress kept under a lock for a UI to poll.

The app keeps one TrainingJob per browser session; nothing here knows about Streamlit, so the same object is
driven by tests and could back any other front end.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import torch

from . import checkpoints
from .config import TrainConfig
from .data import Dataset
from .model import DeviceError, resolve_device
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
    step_detail: object | None = None  # the last StepDetailEvent: one step trained while paused (Step)

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


def _count_job(delta: int) -> None:
    global _running_jobs
    with _running_lock:
        _running_jobs += delta


def running_jobs() -> int:
    """Training runs under way in this process, all sessions together (those waiting for a turn included)."""
    with _running_lock:
        return _running_jobs


def _share_cores() -> None:
    """Gives this worker thread its share of the CPU cores, keeping one for the server and the browser. Torch's
    thread count is per calling thread, and an OpenMP team waits at every op for its slowest thread: on this
    2-core machine a two-thread step ran 10-70x slower whenever anything else (a page refresh, another job)
    used a core, while a one-thread step only loses the second core."""
    torch.set_num_threads(max(1, ((os.cpu_count() or 1) - 1) // max(1, running_jobs())))


def _on_cpu(config: TrainConfig) -> bool:
    try:
        return resolve_device(config.device).type == "cpu"
    except DeviceError:
        return False  # the trainer reports it


class Turns:
    """At most `slots` training threads compute at once; the others queue, first come first served, and a thread
    hands its turn on after `slice_s` whenever someone waits. Every run still moves (each gets a slice in turn),
    but a busy machine keeps a core for the server: four runs on two cores as four threads starved the event
    loop of CPU and of the GIL (a preempted training thread holding it), and the health URL waited over a second.
    """

    def __init__(self, slots: int, slice_s: float = 0.05):
        self.slots, self.slice_s = max(1, slots), slice_s
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._busy = 0

    def acquire(self) -> None:
        me = object()
        with self._cond:
            self._queue.append(me)
            while self._queue[0] is not me or self._busy >= self.slots:
                self._cond.wait()
            self._queue.popleft()
            self._busy += 1
            self._cond.notify_all()  # the next in the queue may take a free slot too

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)


# CPU runs share the machine's cores less one, kept for the server and the browser.
CPU_TURNS = Turns((os.cpu_count() or 1) - 1)


class TurnControl(RunControl):
    """A RunControl whose trainer computes only while it holds a turn, and gives it up while paused."""

    def __init__(self, turns: Turns):
        super().__init__()
        self.turns = turns
        self._since: float | None = None  # when this run's current turn began; None while it holds none

    def take_turn(self) -> None:
        self.turns.acquire()
        self._since = time.perf_counter()

    def give_turn(self) -> None:
        if self._since is not None:
            self._since = None
            self.turns.release()

    def between_steps(self) -> float:
        if self.paused:
            self.give_turn()
            paused = super().between_steps()
            self.take_turn()
            return paused
        if self._since is None:
            self.take_turn()
        elif time.perf_counter() - self._since >= self.turns.slice_s and self.turns.waiting:
            self.give_turn()
            self.take_turn()
        return 0.0


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
        self.control = TurnControl(CPU_TURNS) if _on_cpu(self.config) else RunControl()
        self.model = None  # the trained model once the run ends (done or stopped)
        self._lock = threading.Lock()
        self._snap = JobSnapshot("running", self.config, [], [])
        self._thread = threading.Thread(target=self._run, name="fmnist-train", daemon=True)
        self.created = time.time()

    def start(self) -> TrainingJob:
        _count_job(+1)  # before the thread runs, so a page drawn right after Start counts this run
        try:
            self._thread.start()
        except BaseException:
            _count_job(-1)
            raise
        return self

    def _update(self, **changes) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._snap, k, v)

    def _run(self) -> None:
        try:  # Linux niceness is per thread: background training must not starve the server that serves pages
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        try:
            _share_cores()
            if isinstance(self.control, TurnControl):
                self.control.take_turn()  # setting up (model, first data copy) is computing too
            for ev in train(self.config, self.dataset, self.control, log_every=self.log_every,
                            insight=self.insight):
                with self._lock:
                    self._apply(ev)
                if ev.kind == "done":
                    self._finish(ev.result)
        except Exception as exc:  # train() reports its own failures; this catches our bookkeeping's
            self._update(status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            _count_job(-1)
            if isinstance(self.control, TurnControl):
                self.control.give_turn()

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
        elif ev.kind == "step_detail":
            s.step_detail = ev
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

    def step(self) -> None:
        """While paused: train exactly one mini-batch, then stay paused."""
        if self.snapshot().status == "paused":
            self.control.request_step()

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
