"""RunControl: the switches another thread flips while a run trains (pause, resume, one step, stop, the learning
rate's scale, the thread count), read by the trainer between steps."""

from __future__ import annotations

import math
import threading
import time

import torch


class RunControl:
    """Thread-safe switches read by the trainer between steps."""

    def __init__(self):
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._lr_scale: float | None = None
        self._threads: int | None = None
        self._wake = threading.Condition()
        self._step_wanted = False
        self._single_step = False  # the step about to run is one asked for by request_step()

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()
        self._notify()

    def request_step(self):
        """While paused: let exactly one step run, then stay paused."""
        with self._wake:
            self._step_wanted = self.paused
            self._wake.notify_all()

    def take_single_step(self) -> bool:
        """True once after between_steps() let a requested step through."""
        single, self._single_step = self._single_step, False
        return single

    def _notify(self):
        with self._wake:
            self._wake.notify_all()

    def stop(self):
        self._stop.set()
        self._running.set()  # wake a paused trainer so it can see the stop
        self._notify()

    def set_lr_scale(self, scale: float):
        """Multiply the scheduled learning rate by `scale` from the next step on."""
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError("the learning-rate factor must be a positive number")
        with self._lock:
            self._lr_scale = scale

    def take_lr_scale(self) -> float | None:
        with self._lock:
            scale, self._lr_scale = self._lr_scale, None
            return scale

    def set_threads(self, n: int | None) -> None:
        """Use n torch threads from the next step on: torch's thread count belongs to the thread that trains, so the
        trainer applies it itself (a worker process is told its share of the cores as runs start and end)."""
        self._threads = n

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def between_steps(self) -> float:
        """Called by the trainer before each step: blocks while paused and returns the seconds spent paused, which
        timers leave out."""
        threads, self._threads = self._threads, None
        if threads:
            torch.set_num_threads(threads)
        if self._running.is_set():
            return 0.0
        t = time.perf_counter()
        with self._wake:
            while not (self._running.is_set() or self._step_wanted):
                self._wake.wait()
            self._single_step, self._step_wanted = self._step_wanted and not self._running.is_set(), False
        return time.perf_counter() - t
