"""The CLI's progress bar within an epoch: steps, samples/s and ETA on one redrawn line, on a terminal only, and only
once the epoch has run a couple of seconds (short epochs print their one line per epoch and nothing else)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from fmnist import env
from fmnist.training.events import EpochEvent, StepEvent

SHOW_AFTER_S = 2.0  # FMNIST_PROGRESS_AFTER_S overrides it (the tests set 0)
REDRAW_S = 0.1
WIDTH = 24
CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end


class EpochBar:
    """Fed every trainer event: draws on StepEvents, erases itself before anything else is printed."""

    def __init__(self, stream: TextIO, epochs: int, batch_size: int, after_s: float | None = None):
        self.stream, self.epochs, self.batch_size = stream, epochs, batch_size
        self.after_s = env.number("FMNIST_PROGRESS_AFTER_S", SHOW_AFTER_S) if after_s is None else after_s
        self.epoch_t0 = 0.0  # the run's elapsed seconds when this epoch began
        self.drawn_at: float | None = None  # wall clock of the last draw; None while nothing is on the line

    def update(self, ev) -> None:
        if not isinstance(ev, StepEvent):
            self.clear()
            if isinstance(ev, EpochEvent):
                self.epoch_t0 = ev.elapsed_s
            return
        per_epoch = ev.total_steps // self.epochs
        in_epoch = ev.elapsed_s - self.epoch_t0
        done = ev.step - (ev.epoch - 1) * per_epoch
        now = time.monotonic()
        if in_epoch < self.after_s or done >= per_epoch:  # a short epoch, or its line comes next
            return
        if self.drawn_at is not None and now - self.drawn_at < REDRAW_S:
            return
        self.stream.write(CLEAR + self.line(ev.epoch, done, per_epoch, in_epoch))
        self.stream.flush()
        self.drawn_at = now

    def line(self, epoch: int, done: int, per_epoch: int, in_epoch_s: float) -> str:
        rate = done * self.batch_size / max(in_epoch_s, 1e-9)  # over the epoch so far: steadier than the last step
        eta = (per_epoch - done) * self.batch_size / max(rate, 1e-9)
        filled = WIDTH * done // per_epoch
        return (f"Epoch {epoch:>2}/{self.epochs} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{per_epoch} steps  "
                f"{rate:,.0f} samples/s  ETA {_clock(eta)}")

    def clear(self) -> None:
        if self.drawn_at is not None:
            self.stream.write(CLEAR)
            self.stream.flush()
            self.drawn_at = None


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def epoch_bar(stream: TextIO, config, json: bool) -> EpochBar | None:
    """A bar for a human at a terminal; None with --json or when the output goes to a file or a pipe."""
    if json or not stream.isatty():
        return None
    return EpochBar(stream, config.epochs, config.batch_size)


def log_every(bar: EpochBar | None, device) -> int:
    """Steps between the trainer's step events. With a bar on the CPU, every step: a slow network's 25 steps can take
    many seconds, and a CPU step is synchronous anyway; on a GPU a read of the loss every step would stall it."""
    return 1 if bar is not None and device.type == "cpu" else 25


def drawn(bar: EpochBar | None, events: Iterable) -> Iterator:
    """The trainer's events, each shown on the bar before the caller prints it; the bar is erased however the loop
    ends (Ctrl-C included), so the terminal is left with whole lines."""
    if bar is None:
        yield from events
        return
    try:
        for ev in events:
            bar.update(ev)
            yield ev
    finally:
        bar.clear()
