import math
import threading

import pytest
import torch

from fmnist.data.dataset import device_tensors
from fmnist.training import loop as train_module
from fmnist.training.control import RunControl
from fmnist.training.loop import train
from fmnist.training.recipe import lr_at, shift_batch, split_validation
from tests.helpers import train_to_done


def test_tiny_run_learns(tiny_config, dataset):
    events, result = train_to_done(tiny_config.replace(epochs=2), dataset, log_every=20)
    steps = [e for e in events if e.kind == "step"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(epochs) == 2 and [e.epoch for e in epochs] == [1, 2]
    # The running loss falls from its first reading (~2.3, chance) to well below.
    assert steps[0].loss > 1.0 and steps[-1].loss < 0.7 * steps[0].loss
    assert epochs[1].test_acc > 80.0 and result.test_acc == pytest.approx(epochs[1].test_acc)
    assert steps[-1].step == steps[-1].total_steps == 2 * math.ceil(60_000 / 256)
    assert all(len(e.test_class_acc) == 10 for e in epochs)
    assert sum(epochs[1].test_class_acc) / 10 == pytest.approx(epochs[1].test_acc, abs=1e-6)
    assert result.history == [e.as_dict() for e in epochs]


def test_same_seed_same_run(tiny_config, dataset):
    cfg = tiny_config.replace(hidden=(8,), epochs=1, batch_size=2048)
    a = train_to_done(cfg, dataset)[1]
    b = train_to_done(cfg, dataset)[1]
    assert a.test_acc == b.test_acc
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def test_stop_from_another_thread(tiny_config, dataset):
    control = RunControl()
    cfg = tiny_config.replace(epochs=50)
    events = []
    for ev in train(cfg, dataset, control, log_every=5):
        events.append(ev)
        if ev.kind == "step" and ev.step >= 10:
            threading.Thread(target=control.stop).start()
    assert events[-1].kind == "done" and events[-1].result.stopped
    assert events[-1].result.history == []  # stopped inside epoch 1
    assert max(e.step for e in events if e.kind == "step") < 235  # far from 50 epochs


def test_pause_blocks_until_resume(tiny_config, dataset):
    control = RunControl()
    seen = []
    gen = train(tiny_config, dataset, control, log_every=5)
    first = next(gen)
    assert first.kind == "step"
    control.pause()
    consumer = threading.Thread(target=lambda: seen.extend(gen))
    consumer.start()
    consumer.join(0.7)
    # Paused: the trainer finished at most the step it was in, and nothing is published.
    assert consumer.is_alive() and len(seen) <= 1
    control.resume()
    consumer.join(60)
    assert not consumer.is_alive() and seen[-1].kind == "done" and not seen[-1].result.stopped


class PauseAfter(RunControl):
    """Pauses as a message from the page would: between two steps, here after `n` of them, and resumes soon after."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.calls = n, 0

    def between_steps(self) -> float:
        self.calls += 1
        if self.calls == self.n + 1:
            self.pause()
            threading.Timer(0.3, self.resume).start()
            return 0.0  # the step under way when the message came still runs
        return super().between_steps()


def test_a_paused_run_publishes_the_step_it_stands_at(tiny_config, dataset):
    events = list(train(tiny_config, dataset, PauseAfter(31), log_every=25))
    steps = [e.step for e in events if e.kind == "step"]
    # Steps 1, 25, 50, ... as usual, and 32: where the run stood while paused, not the 25 published before it.
    assert steps[:4] == [1, 25, 32, 50], steps
    assert events[-1].kind == "done" and not events[-1].result.stopped


def test_stop_wakes_a_paused_run(tiny_config, dataset):
    control = RunControl()
    gen = train(tiny_config, dataset, control, log_every=5)
    next(gen)
    control.pause()
    threading.Timer(0.2, control.stop).start()
    rest = list(gen)
    assert rest[-1].kind == "done" and rest[-1].result.stopped


def test_divergence_stops_with_a_reason(tiny_config, dataset):
    events = list(train(tiny_config.replace(optimizer="sgd", lr=10.0, hidden=(64, 64)), dataset, log_every=5))
    last = events[-1]
    assert last.kind == "failed"
    assert "diverged" in last.reason and "lower learning rate" in last.reason
    assert last.step <= 60  # caught within a few log intervals, not after a whole epoch of garbage


def test_cuda_request_without_cuda_fails_cleanly(tiny_config, dataset):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    last = list(train(tiny_config.replace(device="cuda"), dataset))[-1]
    assert last.kind == "failed" and "CUDA" in last.reason


def test_validation_split_and_keep_best(tiny_config, dataset):
    cfg = tiny_config.replace(epochs=2, val_size=5000, keep_best=True, hidden=(16,))
    events, result = train_to_done(cfg, dataset)
    epochs = [e for e in events if e.kind == "epoch"]
    assert all(e.val_acc is not None for e in epochs)
    assert result.best_epoch == max(epochs, key=lambda e: e.val_acc).epoch
    train_idx, val_idx = split_validation(60_000, 5000, cfg.seed)
    assert len(set(train_idx.tolist()) & set(val_idx.tolist())) == 0 and len(val_idx) == 5000


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_a_validation_split_trains_on_the_shared_images_without_copying_them(tiny_config, dataset):
    x_all = device_tensors(dataset, torch.device("cpu"))[0]
    next(train(tiny_config.replace(epochs=1), dataset, log_every=1))  # the first run's imports, not measured
    before = _rss_mb()
    run = train(tiny_config.replace(epochs=1, val_size=5000), dataset, log_every=1)
    first = next(run)  # the split is made and the first batch trained
    grown = _rss_mb() - before
    run.close()
    assert first.kind == "step" and first.total_steps == math.ceil(55_000 / tiny_config.batch_size)
    # A copy of the 55,000 training rows would be 172 MB; the held-out 5,000 rows and the tiny model are ~17 MB.
    assert grown < x_all.nbytes / 2**20 / 4, f"the process grew by {grown:.0f} MB"


def test_lr_change_mid_run_is_applied_and_recorded(tiny_config, dataset):
    control = RunControl()
    lrs = []
    for ev in train(tiny_config, dataset, control, log_every=10):
        if ev.kind == "step":
            lrs.append(ev.lr)
            if ev.step == 20:
                control.set_lr_scale(0.5)
        if ev.kind == "done":
            result = ev.result
    assert lrs[0] == pytest.approx(tiny_config.lr) and lrs[-1] == pytest.approx(tiny_config.lr * 0.5)
    assert result.lr_changes == [{"step": 20, "epoch": 1, "scale": 0.5}]
    with pytest.raises(ValueError):
        control.set_lr_scale(-1)


def test_schedules():
    assert lr_at(0, 100, 0.1, "constant") == lr_at(99, 100, 0.1, "constant") == 0.1
    assert lr_at(0, 100, 0.1, "cosine") == pytest.approx(0.1) and lr_at(99, 100, 0.1, "cosine") == pytest.approx(0)
    one = [lr_at(s, 1000, 0.1, "onecycle") for s in range(1000)]
    assert one[0] == pytest.approx(0.1 / 25) and max(one) == pytest.approx(0.1, rel=1e-3)
    assert one.index(max(one)) == pytest.approx(300, abs=2) and one[-1] < 1e-6


def test_shift_batch_moves_pixels_and_keeps_background():
    x = torch.full((50, 28, 28), -1.0)
    x[:, 13:15, 13:15] = 1.0
    out = shift_batch(x.reshape(50, 784)).reshape(50, 28, 28)
    # The 2x2 square survives whole, moved by at most 2 pixels; the rest stays background.
    assert torch.all((out == 1.0).sum((1, 2)) == 4)
    rows = (out == 1.0).any(2).float().argmax(1)
    assert rows.min() >= 11 and rows.max() <= 15 and len(set(rows.tolist())) > 1


def test_cuda_out_of_memory_says_what_to_do(tiny_config, dataset, monkeypatch):
    def oom(self, idx):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train_module.Step, "__call__", oom)
    last = list(train_module.train(tiny_config, dataset))[-1]
    assert last.kind == "failed"
    assert "out of memory" in last.reason and "smaller batch" in last.reason and "CPU" in last.reason


def test_dropout_keeps_one_minus_p_of_the_units_scaled_and_is_the_identity_in_eval():
    from fmnist.model.mlp import Dropout

    torch.manual_seed(0)
    x = torch.ones(400, 500)
    drop = Dropout(0.3)
    y = drop(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(0.7, abs=0.005)
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)  # the expectation is unchanged, as nn.Dropout's
    assert not torch.equal(drop(x), y)  # a fresh mask every call
    drop.eval()
    assert drop(x) is x


def test_adamw_is_fused_on_the_cpu_and_sgd_is_left_as_the_notebook_has_it(tiny_config):
    from fmnist.model.mlp import MLP

    cpu = torch.device("cpu")
    adamw = train_module.make_optimizer(tiny_config.replace(optimizer="adamw"), MLP(tiny_config), cpu)
    sgd = train_module.make_optimizer(tiny_config.replace(optimizer="sgd"), MLP(tiny_config), cpu)
    assert adamw.defaults["fused"] is True
    assert not sgd.defaults.get("fused")
