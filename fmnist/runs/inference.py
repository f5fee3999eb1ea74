"""The pages' inference (the test set's predictions, one image's probabilities and saliency), asked of the pool's
spare worker and waited for: the server shows Evaluate, Explore and Classify without importing torch, which cost it
about 470 MB and seconds of a fresh server's first page (docs/reliability.md). Evaluate's shift and rotation test is
asked the same way, of a worker of its own (ui/inspect/robustness_jobs.py). The worker's side, and the messages,
are in fmnist/runs/answers.py.

The spare has torch imported and the test set mapped while it waits for a run, so it answers at once; when a run has
just taken it, a new one is started for the request. Nothing here imports torch or Streamlit.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist.inspect.evaluation import Evaluation
from fmnist.messages import N_
from fmnist.store import predictions as kept
from fmnist.store.checkpoints import CheckpointError

ANSWER_TIMEOUT_S = 600.0  # a fresh worker's torch import on a loaded machine, then a CNN over 10,000 images


class InferenceError(RuntimeError):
    """No result: the worker failed to compute it, or ended first; the message says why (the engine's words)."""


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict | None = None


class Inference:
    """One per pool (fmnist.runs.jobs.WorkerPool, whose to_spare is `send`): the requests sent to its workers and not
    answered yet."""

    def __init__(self, send: Callable[[dict], None]):
        self.send = send
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._files: dict[str, threading.Lock] = {}  # one computation of a file's predictions at a time

    def ask(self, task: str, path: str, timeout: float = ANSWER_TIMEOUT_S, **args):
        """The result of `task` for the checkpoint file at `path`: raises CheckpointError when the worker could not
        use the file, InferenceError when it could not compute or ended."""
        rid = next(self._ids)
        pending = _Pending()
        with self._lock:
            self._pending[rid] = pending
        try:
            self.send({"op": "infer", "id": rid, "task": task, "path": str(path), **args})
            if not pending.done.wait(timeout):
                raise InferenceError(N_("no answer from the worker in {seconds} s").format(seconds=f"{timeout:.0f}"))
        finally:
            with self._lock:
                self._pending.pop(rid, None)
        reply = pending.reply
        if "error" in reply:
            if reply.get("checkpoint"):
                raise CheckpointError(reply["error"])
            raise InferenceError(reply["error"])
        return reply["result"]

    def answered(self, message: dict) -> None:
        """A worker's reply (its reader thread calls this)."""
        with self._lock:
            pending = self._pending.get(message.get("id"))
        if pending is not None:
            pending.reply = message
            pending.done.set()

    def ended(self, asked: set[int], reason: str) -> None:
        """A worker exited: the requests it had not answered fail with `reason` (how it ended)."""
        error = N_("the worker computing it ended unexpectedly ({reason})").format(reason=reason)
        for rid in list(asked):
            self.answered({"id": rid, "error": error, "checkpoint": False})


    def file_lock(self, path: str) -> threading.Lock:
        with self._lock:
            return self._files.setdefault(str(path), threading.Lock())


def predictions(inference: Inference, path: str) -> Evaluation:
    """The test set's accuracy, loss, confusion matrix and per-image predictions of a checkpoint file, as NumPy: those
    kept on disk for the file (fmnist.store.predictions), else computed by a worker and kept. A second caller for the
    same file (another session, the server's prefetch) waits for the first and reads what it kept."""
    with inference.file_lock(path):
        ev = kept.load(Path(path))
        if ev is None:
            ev = Evaluation(**inference.ask("predictions", path))
            kept.save(Path(path), ev)
        return ev


def prefetch(inference: Inference, path: str) -> None:
    """predictions(), for a file a visitor is likely to ask about (the default model, at a server's start), so that
    the first Evaluate finds them kept; any failure is left for that visitor's page to report."""
    try:
        predictions(inference, path)
    except Exception:  # noqa: BLE001 - nobody is waiting for this answer
        pass


class WorkerModel:
    """A checkpoint file's model as the Classify and Explore pages use it, computed in the pool's spare worker: what
    fmnist.inspect.predict.LocalModel does in this process."""

    def __init__(self, inference: Inference, path: str):
        self.inference, self.path = inference, str(path)

    def probabilities(self, img28: np.ndarray) -> np.ndarray:
        """Class probabilities (10,) for one uint8 28 x 28 image."""
        return self.inference.ask("probabilities", self.path, image=np.asarray(img28, np.uint8))

    def saliency(self, img28: np.ndarray, target: int | None = None) -> np.ndarray:
        """Signed (28, 28) integrated-gradients saliency of `target` (default: the prediction)."""
        return self.inference.ask("saliency", self.path, image=np.asarray(img28, np.uint8),
                                  target=None if target is None else int(target))

    def feature_maps(self, img28: np.ndarray) -> list[np.ndarray]:
        """Each convolution block's maps (channels, side, side) of one image; none for an MLP."""
        return self.inference.ask("feature_maps", self.path, image=np.asarray(img28, np.uint8))
