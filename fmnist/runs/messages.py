"""What a training worker tells the app's server about its run, as typed messages: the trainer's own events
(fmnist/training/events.py) and the two the worker adds, that the run started on a device and how it ended and was
saved. Each crosses the pipe as plain data (to_message) and is read back as its class (read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from fmnist.training.events import MESSAGES, Message


@dataclass
class RunStarted(Message):
    device: str
    kind: ClassVar[str] = "started"


@dataclass
class RunSaved(Message):
    """The run's end as the worker saved it: the figures of its TrainResult, the checkpoint's name (None when the save
    failed, with save_error saying why, or when the run was discarded) and notes for the page. `discarded`: stopped
    before its first epoch ended, so nothing was saved (fmnist.runs.worker.discards)."""

    test_acc: float
    test_loss: float
    device: str
    stopped: bool
    best_epoch: int | None
    lr_changes: list[dict]
    checkpoint: str | None = None
    save_error: str | None = None
    notes: list[str] = field(default_factory=list)
    discarded: bool = False
    # The run's training time as the checkpoint records it: it counts the last test evaluation, which the last epoch's
    # event, sent before it, does not; a page showing the run beside its checkpoint must show this one.
    elapsed_s: float | None = None
    kind: ClassVar[str] = "done"


RUN_MESSAGES = {**MESSAGES, RunStarted.kind: RunStarted, RunSaved.kind: RunSaved}


def read(message: dict) -> Message:
    """The typed event a message holds; KeyError for a kind no class has."""
    return RUN_MESSAGES[message["kind"]].from_message(message)
