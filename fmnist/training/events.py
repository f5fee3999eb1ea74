"""What a run publishes: typed events, from a step's loss to the finished result. train() yields them; the CLI prints
them, the app charts them, worker processes send them over their pipe."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from fmnist.config import TrainConfig

if TYPE_CHECKING:
    import numpy as np
    from torch import nn


class Message:
    """An event that crosses a pipe as plain data (a worker to its server): to_message() and from_message() are each
    other's inverse, and `kind` names the class in the message."""

    kind: ClassVar[str]

    def to_message(self) -> dict:
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    @classmethod
    def from_message(cls, message: dict):
        return cls(**{k: v for k, v in message.items() if k != "kind"})


@dataclass
class StepEvent(Message):
    epoch: int
    step: int
    total_steps: int
    loss: float  # mean training loss over the steps since the previous StepEvent
    lr: float
    samples_per_s: float
    elapsed_s: float
    kind: ClassVar[str] = "step"


@dataclass
class EpochEvent(Message):
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float  # percent, measured on the batches as they were trained (train mode)
    test_loss: float
    test_acc: float
    test_class_acc: list[float]
    val_loss: float | None
    val_acc: float | None
    lr: float
    elapsed_s: float
    insight: dict | None = None  # first-layer filters and the 2-D projection, when asked for
    # With eval_train (the seed preset): the notebook's "Train Acc.", eval mode over the training images its
    # loader yields after the epoch (59,968 with drop_last), and the mean loss over them.
    train_eval_acc: float | None = None
    train_eval_loss: float | None = None
    kind: ClassVar[str] = "epoch"
    health: list[dict] = field(default_factory=list)  # per hidden layer: fmnist.inspect.health.HEALTH_KEYS
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The epoch's row of the run's history (what checkpoints keep): everything but the insight."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "insight"}


@dataclass
class TrainResult:
    config: TrainConfig
    model: nn.Module
    history: list[dict]
    test_acc: float
    test_loss: float
    elapsed_s: float
    device: str
    stopped: bool
    best_epoch: int | None = None
    lr_changes: list[dict] = field(default_factory=list)


@dataclass
class DoneEvent:
    """The run's end, with its model: it stays in the process that trained (a worker sends what it saved instead)."""

    result: TrainResult
    kind: ClassVar[str] = "done"


@dataclass
class FailedEvent(Message):
    reason: str
    epoch: int
    step: int
    kind: ClassVar[str] = "failed"


@dataclass
class NoteEvent(Message):
    """Something the user should know that does not stop the run (e.g. a CUDA graph fell back to eager)."""

    message: str
    kind: ClassVar[str] = "note"


@dataclass
class StepDetailEvent(Message):
    """What one step trained while paused did (fmnist/training/step_detail.py), as plain numpy."""

    step: int  # the global step just trained (1-based, like StepEvent.step)
    epoch: int
    images: np.ndarray  # uint8 (k, 28, 28), the first k images of the batch, before augmentation
    labels: list[int]
    pred_before: list[int]
    pred_after: list[int]
    loss_before: float  # on the whole batch, in eval mode (no dropout), before and after the step
    loss_after: float
    weight_change: list[np.ndarray] = field(default_factory=list)  # per Linear: after minus before, (out, in)
    batch_size: int = 0  # the whole batch's, of which `images` are the first (0: not told)
    conv: dict | None = None  # a CNN's kernels and feature maps after the step (fmnist.inspect.conv.views)
    kind: ClassVar[str] = "step_detail"


Event = StepEvent | EpochEvent | DoneEvent | FailedEvent | NoteEvent | StepDetailEvent
MESSAGES = {cls.kind: cls for cls in (StepEvent, EpochEvent, FailedEvent, NoteEvent, StepDetailEvent)}
