"""Events with types at both ends: every message a worker sends is read back by the server as the same typed event,
through the real pipe a worker uses."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from fmnist.runs import messages
from fmnist.runs.messages import RUN_MESSAGES, RunSaved, RunStarted
from fmnist.training.events import EpochEvent, FailedEvent, NoteEvent, StepDetailEvent, StepEvent

EXAMPLES = [
    StepEvent(1, 25, 938, 0.71, 0.01, 5123.4, 1.5),
    EpochEvent(1, 20, 0.62, 78.1, 0.55, 80.2, [80.0] * 10, 0.56, 79.9, 0.01, 12.0, {"filters": np.ones((4, 784))},
               train_eval_acc=81.0, train_eval_loss=0.5, health=[{"dead": 0.1}], warnings=["w"]),
    FailedEvent("the loss became nan", 2, 100),
    NoteEvent("training in fp32"),
    StepDetailEvent(7, 1, np.zeros((3, 28, 28), np.uint8), [1, 2, 3], [1, 2, 2], [1, 2, 3], 0.9, 0.8,
                    [np.ones((4, 784), np.float32)]),
    RunStarted("cpu"),
    RunSaved(88.1, 0.33, "cpu", False, None, [], "quick-88.10", None, ["saved"], elapsed_s=12.5),
]


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and same(vars(a), vars(b))
    return a == b


def test_every_message_kind_has_an_example():
    assert {type(e) for e in EXAMPLES} == set(RUN_MESSAGES.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_an_event_crosses_the_pipe_and_is_read_back_as_itself(event):
    reader, writer = multiprocessing.Pipe(duplex=False)
    writer.send(event.to_message())
    message = reader.recv()
    assert message["kind"] == event.kind and isinstance(message, dict)  # plain data on the wire
    back = messages.read(message)
    assert type(back) is type(event) and same(back, event)


def test_a_message_of_no_known_kind_is_refused():
    with pytest.raises(KeyError):
        messages.read({"kind": "surprise"})


def test_the_history_row_of_an_epoch_leaves_only_the_insight_out():
    row = EXAMPLES[1].as_dict()
    assert "insight" not in row and "kind" not in row and row["epoch"] == 1 and row["warnings"] == ["w"]
