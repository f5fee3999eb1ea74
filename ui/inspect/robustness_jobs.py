"""The server's shift and rotation measurements: one background thread measures what the pages ask for, one shift or
rotation of one model file at a time, and keeps every result for every session until the file changes.

A whole measurement is 39 passes over the 10,000 test images (shifts 0-4 in 8 directions, rotations of 5, 10 and 15
degrees both ways): minutes for a CNN on one core. So a page asks and polls; it never waits in its script run, and a
second session asking for the same model gets the figures the first one paid for. Each model's figures are also kept
on disk (a small JSON file a checkpoint in the checkpoints folder's hidden .robustness folder, stamped with the
checkpoint file's name, size and modification time), so a restarted server shows them without measuring again, and a
model saved again under the same name is measured again.

The measuring itself is done in a worker process (fmnist.runs.answers' "robustness" task, asked through
fmnist.runs.inference as the pages' other inference is), one item a request: the thread here only asks and waits, so
the server imports no torch for the test. Not the pool's spare, which answers the pages' clicks and takes the next
Start: one shift of a CNN keeps a worker busy for over a minute (77 s for the shipped cnn on one busy core), and a
click or a Start would wait behind it. The measuring worker is a pool of its own (a spare that never trains), started
at the first Measure and let go MEASURER_IDLE_S after its last answer, and with it torch's memory. Nothing here
imports Streamlit.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

Key = tuple[str, float]  # (checkpoint path, its modification time): a file saved again is measured again
Item = tuple[str, float]  # ("shift", pixels) or ("rotation", degrees)
STORE_DIR = ".robustness"  # in the checkpoints folder, hidden from its listing as recovery files are
MEASURER_IDLE_S = 60.0  # long enough for the next model's request after a page's rerun, short beside a torch process


def items(shifts=None, rotations=None) -> list[Item]:
    """The measurements a page asks for; by default the whole test (fmnist.inspect.robustness_amounts, without
    torch: the Evaluate page lists them in a server that imports no torch to show it)."""
    if shifts is None or rotations is None:
        from fmnist.inspect.robustness_amounts import ROTATIONS, SHIFTS

        shifts, rotations = SHIFTS if shifts is None else shifts, ROTATIONS if rotations is None else rotations
    return [("shift", float(k)) for k in shifts] + [("rotation", float(r)) for r in rotations]


@dataclass
class Measurements:
    results: dict[Key, dict[Item, float]] = field(default_factory=dict)  # accuracy in percent
    errors: dict[Key, str] = field(default_factory=dict)
    queue: deque = field(default_factory=deque)  # (key, item) in the order asked
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    read: set = field(default_factory=set)  # the keys whose stored figures have been looked for on disk

    def _stored(self, key: Key) -> None:
        """The figures a server measured earlier for this very file, read once per key (under the lock)."""
        if key not in self.read:
            self.read.add(key)
            if stored := load(key):
                self.results[key] = {**stored, **self.results.get(key, {})}

    def request(self, key: Key, wanted: list[Item]) -> None:
        """Queues what is not measured or queued yet, and starts the thread if it is not running."""
        with self.lock:
            self.errors.pop(key, None)
            self._stored(key)
            done = self.results.get(key, {})
            for item in wanted:
                if item not in done and (key, item) not in self.queue:
                    self.queue.append((key, item))
            if self.queue and (self.thread is None or not self.thread.is_alive()):
                self.thread = threading.Thread(target=self._work, name="robustness", daemon=True)
                self.thread.start()

    def result(self, key: Key) -> dict[Item, float]:
        with self.lock:
            self._stored(key)
            return dict(self.results.get(key, {}))

    def error(self, key: Key) -> str | None:
        with self.lock:
            return self.errors.get(key)

    def queued(self, key: Key) -> int:
        """How many of this file's measurements are still to be made (the one being made included)."""
        with self.lock:
            return sum(1 for k, _ in self.queue if k == key)

    def _work(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    self.thread = None
                    return
                key, item = self.queue[0]
            try:
                accuracy = _measure(key, item, self.result(key))
            except Exception as exc:  # a file gone or damaged since it was listed, a worker failing: said on the page
                with self.lock:
                    self.errors[key] = str(exc)
                    self.queue = deque(q for q in self.queue if q[0] != key)
                continue
            with self.lock:
                self.results.setdefault(key, {})[item] = accuracy
                done = dict(self.results[key])
                if self.queue and self.queue[0] == (key, item):
                    self.queue.popleft()
            save(key, done)


def store_path(key: Key) -> Path:
    """Where a checkpoint's figures are kept: beside it, in the checkpoints folder's hidden STORE_DIR."""
    path = Path(key[0])
    return path.parent / STORE_DIR / f"{path.name}.json"


def _stamp(key: Key) -> dict | None:
    """The checkpoint file's name, size and modification time, if it is still the file the key names (not saved again
    since the page listed it)."""
    try:
        st = os.stat(key[0])
    except OSError:
        return None
    return {"file": Path(key[0]).name, "size": st.st_size, "mtime_ns": st.st_mtime_ns} if st.st_mtime == key[1] \
        else None


def load(key: Key) -> dict[Item, float]:
    """The figures stored for this very file; none when there are none, they belong to an earlier file of the same
    name, or the store cannot be read (it is only a cache: they are measured again)."""
    stamp = _stamp(key)
    try:
        stored = json.loads(store_path(key).read_text())
        if stamp is None or stored.get("checkpoint") != stamp:
            return {}
        return {(r["kind"], float(r["amount"])): float(r["accuracy"]) for r in stored["results"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(key: Key, results: dict[Item, float]) -> None:
    """Stores a file's figures so far, atomically (a server stopped mid-write leaves the previous file whole). Not
    stored when the file has changed meanwhile; a folder that cannot be written only costs a later measurement."""
    from fmnist.store.checkpoints import CheckpointError, write_atomic

    stamp = _stamp(key)
    if stamp is None:
        return
    rows = [{"kind": kind, "amount": amount, "accuracy": acc} for (kind, amount), acc in sorted(results.items())]
    try:
        write_atomic(store_path(key), json.dumps({"checkpoint": stamp, "results": rows}).encode())
    except (CheckpointError, OSError):
        pass


_measurer = None  # the WorkerPool whose spare measures, made at the first measurement
_measurer_lock = threading.Lock()


def measurer():
    """The measuring worker's pool: it trains nothing, so its spare only answers the thread's requests, and is let go
    when idle (made again for the next one)."""
    from fmnist.runs.jobs import WorkerPool

    global _measurer
    with _measurer_lock:
        if _measurer is None:
            _measurer = WorkerPool(spare=False, idle_s=MEASURER_IDLE_S)  # none kept ahead of a request
            atexit.register(_measurer.shutdown)
        return _measurer


def _measure(key: Key, item: Item, done: dict[Item, float]) -> float:
    """One shift or rotation, measured by the measuring worker; shift 0 and rotation 0 are the same plain accuracy,
    measured once. Raises what fmnist.runs.inference.Inference.ask raises (CheckpointError, InferenceError)."""
    kind, amount = item
    if amount == 0 and done.get(("rotation" if kind == "shift" else "shift", 0.0)) is not None:
        return done[("rotation" if kind == "shift" else "shift", 0.0)]
    return float(measurer().inference.ask("robustness", key[0], kind=kind, amount=amount))


MEASUREMENTS = Measurements()  # one per server process, shared by every session
