"""Training runs as worker processes (fmnist.runs.worker), seen from the app's server: each TrainingJob keeps the
JobSnapshot the pages read, and one WorkerPool per server hands out run slots, keeps a warm spare worker and shares
the cores among the runs in progress.

Nothing here imports torch or Streamlit: the server stays light, and a fault in a run (a native crash, an
out-of-memory kill) ends that worker alone. The message protocol is described in fmnist/runs/worker.py.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from fmnist import env
from fmnist.config import TrainConfig
from fmnist.messages import N_
from fmnist.runs import messages
from fmnist.runs.inference import Inference
from fmnist.runs.messages import RunSaved, RunStarted
from fmnist.store import checkpoints
from fmnist.training.events import EpochEvent, FailedEvent, NoteEvent, StepDetailEvent, StepEvent

SPARE_IDLE_S = 600.0  # a spare nobody used for this long is let go, and made again at the next Start
SPARE_DELAY_S = 3.0  # the next spare's torch import waits this long, so that it does not slow a run's first steps


@dataclass
class JobSnapshot:
    """A consistent copy of a job's state, safe to read without the lock."""

    status: str  # waiting, running, paused, stopping, done, stopped, failed
    config: TrainConfig
    steps: list[tuple[int, float]]  # (global step, mean loss since the previous point)
    epochs: list[dict]
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0
    device: str = ""
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    save_error: str | None = None
    discarded: bool = False  # stopped before its first epoch ended: nothing was saved
    test_acc: float | None = None
    lr_changes: list[dict] = field(default_factory=list)
    insight: list[dict] = field(default_factory=list)  # per epoch: first-layer filters, 2-D projection
    queue_position: int = 0  # 1 for the next run to start while all slots are taken; 0 once it has one
    step_detail: StepDetailEvent | None = None  # the last one step trained while paused (Step)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    @property
    def eta_s(self) -> float | None:
        if not self.samples_per_s or not self.total_steps or self.finished:
            return None
        return (self.total_steps - self.step) * self.config.batch_size / self.samples_per_s


def exit_reason(code: int | None) -> str:
    """How a worker that sent no result ended, in words."""
    if code is not None and code < 0:
        try:
            return N_("killed by signal {signal}").format(signal=signal.Signals(-code).name)
        except ValueError:
            return N_("killed by signal {signal}").format(signal=-code)
    return N_("exit code {code}").format(code=code)


class Worker:
    """One worker process and its two pipes. A reader thread receives its messages for as long as it lives."""

    def __init__(self, pool: WorkerPool):
        self.pool = pool
        self.job: TrainingJob | None = None
        self.devices: dict | None = None
        self.ready = threading.Event()
        self.idle_since = time.monotonic()
        self.asked: set[int] = set()  # inference requests sent and not answered (fmnist.runs.inference)
        to_worker, from_server = os.pipe()
        to_server, from_worker = os.pipe()
        environ = os.environ if pool.environ is None else pool.environ
        path = os.pathsep.join(filter(None, (str(env.ROOT), environ.get("PYTHONPATH"))))
        self.proc = subprocess.Popen([sys.executable, "-m", "fmnist.runs.worker", str(to_worker), str(from_worker)],
                                     pass_fds=(to_worker, from_worker), env={**environ, "PYTHONPATH": path},
                                     cwd=env.ROOT, stdin=subprocess.DEVNULL)
        os.close(to_worker)
        os.close(from_worker)
        self._out = Connection(from_server, readable=False)
        self._in = Connection(to_server, writable=False)
        self._send_lock = threading.Lock()
        threading.Thread(target=self._read, name=f"fmnist-worker-{self.proc.pid}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: dict) -> None:
        with self._send_lock:
            try:
                self._out.send(message)
            except OSError:  # it has died; its reader reports how
                pass

    def _read(self) -> None:
        while True:
            try:
                message = self._in.recv()
            except (EOFError, OSError):
                break
            if message["kind"] == "ready":
                self.devices = self.pool.devices_seen = message["devices"]
                self.ready.set()
            elif message["kind"] == "inferred":
                self.idle_since = time.monotonic()
                self.asked.discard(message["id"])
                self.pool.inference.answered(message)
            elif self.job is not None:
                self.job._apply(message)
        code = self.proc.wait()
        self.ready.set()
        self._in.close()
        self.close()
        if self.job is not None:
            self.job._ended(exit_reason(code))
        self.pool._exited(self)  # first: no request is sent to this worker after it
        self.pool.inference.ended(self.asked, exit_reason(code))

    def close(self) -> None:
        """Closing the server's end of the pipe is what ends a worker: it exits as soon as it sees that."""
        with self._send_lock:
            self._out.close()


class WorkerPool:
    """At most `slots` runs train at once, first come first served; each gets a worker, the warm spare if there is
    one, and its share of the cores as torch threads. Its workers start with `environ` where one is given, else with
    this process's environment as it is when each starts (a spare starts long before the run it takes)."""

    def __init__(self, slots: int | None = None, spare: bool = True, idle_s: float = SPARE_IDLE_S,
                 environ: dict[str, str] | None = None):
        self.slots = max(1, slots if slots is not None else max_runs())
        self.keep_spare, self.idle_s = spare, idle_s
        self.environ = dict(environ) if environ is not None else None
        self._lock = threading.RLock()
        self._running: dict[TrainingJob, Worker] = {}
        self._waiting: deque[TrainingJob] = deque()
        self._spare: Worker | None = None
        self._workers: set[Worker] = set()
        self.devices_seen: dict | None = None  # what the first worker to start found
        self.inference = Inference(self.to_spare)

    # What the pages read.
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def devices(self, timeout: float = 0.0) -> dict | None:
        """The devices a worker found (fmnist.model.devices.available) once one has started, waiting up to `timeout` s
        for the spare to; None before that."""
        if self.devices_seen is None and timeout > 0:
            self.ensure_spare()
            with self._lock:
                spare = self._spare
            if spare is not None:
                spare.ready.wait(timeout)
        return self.devices_seen

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers]

    # Runs.
    def submit(self, job: TrainingJob) -> None:
        with self._lock:
            self._waiting.append(job)
            self._dispatch()

    def cancel(self, job: TrainingJob) -> bool:
        """Takes a waiting job out of the queue; False when it already has a worker."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
            self._number_queue()
            return True

    def _dispatch(self) -> None:
        started = False
        while self._waiting and len(self._running) < self.slots:
            job = self._waiting.popleft()
            worker, self._spare = self._spare or self._spawn(), None
            self._running[job] = worker
            job._assigned(worker, self._threads(len(self._running)))
            self._share_cores()
            started = True
        self._number_queue()
        if started:  # the spare went to a run: make the next one once the run is under way
            self._later(SPARE_DELAY_S, self.ensure_spare)

    def _number_queue(self) -> None:
        for i, job in enumerate(self._waiting):
            job._queued(i + 1)

    def _threads(self, running: int) -> int:
        return max(1, (os.cpu_count() or 1) // max(1, running))

    def _share_cores(self) -> None:
        n = self._threads(len(self._running))
        for worker in self._running.values():
            worker.send({"op": "threads", "n": n})

    def _exited(self, worker: Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
            if self._spare is worker:
                self._spare = None
            for job, w in list(self._running.items()):
                if w is worker:
                    del self._running[job]
            self._share_cores()
            self._dispatch()

    # The spare.
    def _spawn(self) -> Worker:
        worker = Worker(self)
        self._workers.add(worker)
        return worker

    def ensure_spare(self) -> None:
        with self._lock:
            if self._spare is None and self.keep_spare:
                if any(not w.ready.is_set() for w in self._workers):
                    # Another worker is still importing torch (a Start that found no spare): a second import beside
                    # it would slow that run's start on a 2-core machine. Look again in a second.
                    self._later(1.0, self.ensure_spare)
                    return
                self._new_spare()

    def _new_spare(self) -> Worker:
        self._spare = spare = self._spawn()
        self._later(self.idle_s, lambda: self._release_idle_spare(spare))
        return spare

    def to_spare(self, request: dict) -> None:
        """Sends a page's inference request (fmnist.runs.inference) to the spare, made now if there is none: the
        spare has torch imported and waits for a run. Under the pool's lock, so a run that takes this spare is sent
        its start after the request."""
        with self._lock:
            spare = self._spare or self._new_spare()
            spare.idle_since = time.monotonic()
            spare.asked.add(request["id"])
            spare.send(request)

    def ensure_spare_after(self, seconds: float) -> None:
        """ensure_spare, `seconds` from now: what the server's start and its first page ask for (ui/)."""
        self._later(seconds, self.ensure_spare)

    def _release_idle_spare(self, spare: Worker) -> None:
        with self._lock:
            if self._spare is not spare:
                return
            idle = time.monotonic() - spare.idle_since
            if idle >= self.idle_s - 0.5 and not spare.asked:
                self._spare = None
                spare.close()
            else:  # asked meanwhile, or still answering (a CNN's shift test takes a minute): idle from its answer on
                self._later(max(self.idle_s - idle, 1.0), lambda: self._release_idle_spare(spare))

    def _later(self, seconds: float, fn) -> None:
        timer = threading.Timer(seconds, fn)
        timer.daemon = True
        timer.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ends every worker (what the server's exit does): a run's worker sees its pipe close, saves what it learned
        and exits; a spare, which holds no run and may still be importing torch for seconds, is terminated."""
        with self._lock:
            self.keep_spare = False
            self._waiting.clear()
            workers, spare, self._spare = list(self._workers), self._spare, None
        for w in workers:
            w.close()
        if spare is not None:
            spare.proc.terminate()
        deadline = time.monotonic() + timeout
        for w in workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()


def max_runs() -> int:
    """FMNIST_MAX_RUNS, else the number of cores; at least 1."""
    try:
        return max(1, int(env.get("FMNIST_MAX_RUNS") or (os.cpu_count() or 1)))
    except ValueError:
        return max(1, os.cpu_count() or 1)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def pool() -> WorkerPool:
    """The server's pool, made on first use and shut down when the process exits."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool()
            atexit.register(_pool.shutdown)
        return _pool


def quotas() -> dict:
    """The server's checkpoint quotas (FMNIST_MAX_RUNS_PER_SESSION, FMNIST_MAX_CHECKPOINT_MB), read where the
    server's environment is: a worker started earlier may not have it. When they are misset, {"error": why}, which
    the worker's save reports."""
    try:
        return dataclasses.asdict(checkpoints.Quotas.from_env())
    except checkpoints.CheckpointError as exc:
        return {"error": str(exc)}


def running_jobs() -> int:
    """Runs training in this server now, all sessions together (not those waiting for a slot)."""
    return pool().running()


class TrainingJob:
    def __init__(self, config: TrainConfig, store: checkpoints.CheckpointStore | None = None,
                 name: str | None = None, log_every: int = 25, insight: bool = False,
                 workers: WorkerPool | None = None, meta: dict | None = None, owner: str | None = None,
                 recover: str | None = None, challenge: dict | None = None):
        self.config = config.validated()
        # A class challenge's run: {"id", "name", "db"}; the worker checks its limits and enters it on the board.
        self.challenge = dict(challenge) if challenge else None
        self.store = store or checkpoints.CheckpointStore()
        self.name, self.log_every, self.insight, self.meta = name, log_every, insight, dict(meta or {})
        # Who may delete the checkpoint (fmnist.store.checkpoints owners), and an interrupted run's file to go on with.
        self.owner, self.recover_from = owner or checkpoints.MACHINE_OWNER, recover
        self.pool = workers or pool()
        self.worker: Worker | None = None
        self.created = time.time()
        self._paused = False
        self._lock = threading.Lock()
        self._ended_event = threading.Event()
        self._snap = JobSnapshot("waiting", self.config, [], [])

    def start(self) -> TrainingJob:
        self.pool.submit(self)
        return self

    # Called by the pool and the worker's reader thread.
    def _assigned(self, worker: Worker, threads: int) -> None:
        self.worker = worker
        worker.job = self
        with self._lock:
            self._snap.queue_position = 0
            if self._snap.status == "waiting":
                self._snap.status = "paused" if self._paused else "running"
        worker.send({"op": "start", "job": {
            "config": self.config.to_dict(), "store": str(self.store.root.resolve()), "name": self.name,
            "log_every": self.log_every, "insight": self.insight, "threads": threads, "paused": self._paused,
            "meta": self.meta, "owner": self.owner, "recover": self.recover_from, "quotas": quotas(),
            "challenge": self.challenge}})

    def _queued(self, position: int) -> None:
        self._update(queue_position=position)

    def _apply(self, message: dict) -> None:
        with self._lock:
            s = self._snap
            match messages.read(message):
                case StepEvent() as ev:
                    s.steps.append((ev.step, ev.loss))
                    s.step, s.total_steps, s.epoch = ev.step, ev.total_steps, ev.epoch
                    s.samples_per_s, s.elapsed_s = ev.samples_per_s, ev.elapsed_s
                case EpochEvent() as ev:
                    s.epochs.append(ev.as_dict())
                    s.elapsed_s = ev.elapsed_s
                    if ev.insight is not None:
                        s.insight.append(ev.insight)
                case RunStarted(device=device):
                    s.device = device
                case NoteEvent(message=note):
                    s.notes.append(note)
                case StepDetailEvent() as ev:
                    s.step_detail = ev
                case FailedEvent(reason=reason):
                    s.status, s.error = "failed", reason
                case RunSaved() as ev:
                    s.status = "stopped" if ev.stopped else "done"
                    s.device, s.test_acc, s.lr_changes = ev.device, ev.test_acc, ev.lr_changes
                    s.checkpoint, s.save_error, s.discarded = ev.checkpoint, ev.save_error, ev.discarded
                    if ev.elapsed_s is not None:
                        s.elapsed_s = ev.elapsed_s
                    s.notes.extend(ev.notes)

    def _ended(self, reason: str) -> None:
        """The worker has exited. Without a result first, it died: the curves received so far stay."""
        with self._lock:
            if not self._snap.finished:
                self._snap.status = "failed"
                self._snap.error = N_("the run ended unexpectedly ({reason}). The curves received so far are kept; "
                                      "you can start a new run.").format(reason=reason)
        self._ended_event.set()

    def _update(self, **changes) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self._snap, k, v)

    # Controls, safe from any thread.
    def pause(self) -> None:
        if not self.snapshot().finished:
            self._paused = True
            self._send({"op": "pause"}, status="paused")

    def resume(self) -> None:
        if not self.snapshot().finished:
            self._paused = False
            self._send({"op": "resume"}, status="running")

    def step(self) -> None:
        """While paused: train exactly one mini-batch, then stay paused."""
        if self.snapshot().status == "paused" and self.worker is not None:
            self.worker.send({"op": "step"})

    def stop(self) -> None:
        if self.snapshot().finished:
            return
        if self.pool.cancel(self):  # it never had a worker: nothing to save
            self._update(status="stopped", queue_position=0)
            self._ended_event.set()
        else:
            self._send({"op": "stop"}, status="stopping")

    def _send(self, message: dict, status: str) -> None:
        with self._lock:
            if self.worker is None:  # still waiting: the worker is told when it gets one
                return
            self._snap.status = status
        self.worker.send(message)

    def set_lr_scale(self, scale: float) -> None:
        """Shown on the charts at once; the worker's own record (with the exact step) replaces it at the end."""
        if not (scale > 0 and scale < float("inf")):
            raise ValueError("the learning-rate factor must be a positive number")
        with self._lock:
            self._snap.lr_changes.append({"step": self._snap.step, "epoch": self._snap.epoch, "scale": scale})
        if self.worker is not None:
            self.worker.send({"op": "lr", "scale": scale})

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = self._snap
            return JobSnapshot(**{**s.__dict__, "steps": list(s.steps), "epochs": list(s.epochs),
                                  "notes": list(s.notes), "lr_changes": list(s.lr_changes),
                                  "insight": list(s.insight)})

    def join(self, timeout: float | None = None) -> bool:
        """Waits until the worker has exited (or the job left the queue unstarted)."""
        return self._ended_event.wait(timeout)

    @property
    def alive(self) -> bool:
        return not self._ended_event.is_set()

    @property
    def pid(self) -> int | None:
        return self.worker.pid if self.worker is not None else None

    def close(self, timeout: float = 5.0) -> None:
        """Stops the run (what a closed browser tab calls); the worker saves what it learned and exits."""
        self.stop()
        if not self.join(timeout) and self.worker is not None:
            self.worker.proc.kill()
            self.join(timeout)
