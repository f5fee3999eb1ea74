"""The trainer: the whole dataset on the device, index-slice batches, metrics kept on the device until read.

`train()` is a generator of events; whoever iterates it (the CLI, the app's worker thread, a test) decides what
to do with them. A RunControl lets another thread pause, resume, stop or change the learning rate between steps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .config import TrainConfig
from .data import Dataset, device_tensors, load_dataset
from .evaluate import evaluate_logits, predict_logits
from .explain import first_layer_filters, hidden_features, pca_2d
from .health import HealthTracker, histograms, network_insight
from .model import MLP, device_label, resolve_device
from .step_detail import StepDetailEvent, after_step, before_step


@dataclass
class StepEvent:
    epoch: int
    step: int
    total_steps: int
    loss: float  # mean training loss over the steps since the previous StepEvent
    lr: float
    samples_per_s: float
    elapsed_s: float
    kind: str = "step"


@dataclass
class EpochEvent:
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
    kind: str = "epoch"
    health: list[dict] = field(default_factory=list)  # per hidden layer: fmnist.health.HEALTH_KEYS
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("kind", "insight")}


@dataclass
class TrainResult:
    config: TrainConfig
    model: MLP
    history: list[dict]
    test_acc: float
    test_loss: float
    elapsed_s: float
    device: str
    stopped: bool
    best_epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    lr_changes: list[dict] = field(default_factory=list)


@dataclass
class DoneEvent:
    result: TrainResult
    kind: str = "done"


@dataclass
class FailedEvent:
    reason: str
    epoch: int
    step: int
    history: list[dict]
    kind: str = "failed"


@dataclass
class NoteEvent:
    """Something the user should know that does not stop the run (e.g. a CUDA graph fell back to eager)."""

    message: str
    kind: str = "note"


Event = StepEvent | EpochEvent | DoneEvent | FailedEvent | NoteEvent | StepDetailEvent


class RunControl:
    """Thread-safe switches read by the trainer between steps."""

    def __init__(self):
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._lr_scale: float | None = None
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

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def between_steps(self) -> float:
        """Called by the trainer before each step: blocks while paused and returns the seconds spent paused, which
        timers leave out. Subclasses may also wait here for their share of a busy machine."""
        if self._running.is_set():
            return 0.0
        t = time.perf_counter()
        with self._wake:
            while not (self._running.is_set() or self._step_wanted):
                self._wake.wait()
            self._single_step, self._step_wanted = self._step_wanted and not self._running.is_set(), False
        return time.perf_counter() - t


def lr_at(step: int, total: int, base: float, schedule: str) -> float:
    """Learning rate for a 0-based step; one-cycle follows torch's OneCycleLR (30% warm-up, cosine both ways)."""
    if schedule == "constant" or total <= 1:
        return base
    t = step / (total - 1)
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * t))
    start, end, warm = base / 25, base / 25 / 1e4, 0.3
    if t < warm:
        return start + (base - start) * 0.5 * (1 - math.cos(math.pi * t / warm))
    return end + (base - end) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))


def make_optimizer(config: TrainConfig, model: nn.Module, device: torch.device, capturable: bool = False):
    decay, no_decay = [], []
    for p in model.parameters():
        # Weight decay on biases and batch-norm scales only fights the normalisation; keep it for weights.
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    lr = torch.tensor(config.lr, device=device) if capturable else config.lr
    kw = {"fused": True} if device.type == "cuda" else {}
    if capturable and config.optimizer in ("adam", "adamw"):
        kw["capturable"] = True
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, **kw)
    if config.optimizer == "momentum":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, **kw)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, **kw)
    return torch.optim.AdamW(groups, lr=lr, **kw)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        if isinstance(g["lr"], torch.Tensor):
            g["lr"].fill_(lr)
        else:
            g["lr"] = lr


def shift_batch(x: torch.Tensor, max_shift: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation of each image by up to max_shift pixels, as one gather (no per-sample Python)."""
    b = x.shape[0]
    img = F.pad(x.view(b, 28, 28), (max_shift,) * 4, value=-1.0)  # -1 is a black pixel after normalisation
    d = torch.randint(0, 2 * max_shift + 1, (2, b, 1), device=x.device, generator=generator)
    ar = torch.arange(28, device=x.device)
    rows = (ar + d[0])[:, :, None]
    cols = (ar + d[1])[:, None, :]
    return img[torch.arange(b, device=x.device)[:, None, None], rows, cols].reshape(b, 784)


def split_validation(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded hold-out so the validation images are the same on every device and every run."""
    g = torch.Generator().manual_seed(seed + 1)
    perm = torch.randperm(n, generator=g)
    return perm[val_size:], perm[:val_size]


class _Step:
    """One optimisation step with its metrics accumulated on the device; on CUDA the whole step (gather,
    augmentation, forward, backward, optimizer) is replayed from a CUDA graph."""

    def __init__(self, model, opt, config: TrainConfig, x: torch.Tensor, y: torch.Tensor, device):
        self.model, self.opt, self.config, self.x, self.y = model, opt, config, x, y
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.seen = 0
        self.graph = None
        self.static_idx = None

    def _body(self, idx: torch.Tensor, zero: str = "none") -> None:
        # Gradients: freed before an eager step; zeroed in place around a graph (whose captured backward writes
        # into fixed tensors); neither inside the capture itself, where backward assigns fresh ones.
        if zero == "none":
            self.opt.zero_grad(set_to_none=True)
        elif zero == "inplace":
            self.opt.zero_grad(set_to_none=False)
        xb = self.x.index_select(0, idx)
        yb = self.y.index_select(0, idx)
        if self.config.augment:
            xb = shift_batch(xb)
        logits = self.model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=self.config.label_smoothing)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.loss_sum.add_(loss.detach() * idx.shape[0])
            self.correct.add_((logits.argmax(1) == yb).sum())

    def capture(self, batch_size: int) -> None:
        """Records the step for a fixed batch size. Warm-up steps change the weights, so everything the warm-up
        touches is put back afterwards and the graph starts from the untouched model."""
        saved = [t.detach().clone() for t in self._state_tensors()]
        self.static_idx = torch.arange(batch_size, device=self.x.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._body(self.static_idx)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            self._body(self.static_idx, zero="skip")
        torch.cuda.synchronize()
        tensors = self._state_tensors()
        for t, s in zip(tensors, saved):
            t.copy_(s)
        # Optimizer state (moments, momentum buffers, step counts) was created by the warm-up: a zeroed state
        # is exactly what a fresh optimizer would have started from.
        for t in tensors[len(saved):]:
            t.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()
        self.graph = graph

    def _state_tensors(self) -> list[torch.Tensor]:
        out = [t for t in self.model.state_dict().values()]
        for state in self.opt.state.values():
            out.extend(v for v in state.values() if isinstance(v, torch.Tensor))
        return out

    def __call__(self, idx: torch.Tensor) -> None:
        if self.graph is not None and idx.shape[0] == self.static_idx.shape[0]:
            self.static_idx.copy_(idx)
            self.graph.replay()
        else:
            self._body(idx, zero="none" if self.graph is None else "inplace")
        self.seen += idx.shape[0]

    def take(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Returns and resets the running sums (still on the device: the caller decides when to sync)."""
        out = (self.loss_sum.clone(), self.correct.clone(), self.seen)
        self.loss_sum.zero_()
        self.correct.zero_()
        self.seen = 0
        return out


_SEED_LOCK = threading.Lock()


def _draw_seed(rng: torch.Generator) -> int:
    return int(torch.empty((), dtype=torch.int64).random_(generator=rng).item())


def _loader_order(rng: torch.Generator, n: int) -> torch.Tensor:
    """The order DataLoader(shuffle=True) draws from the same RNG stream (its iterator's base seed first,
    then the sampler's seed), so the seed preset sees the notebook's batches."""
    _draw_seed(rng)
    return torch.randperm(n, generator=torch.Generator().manual_seed(_draw_seed(rng)))


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, list[float]]:
    ev = evaluate_logits(predict_logits(model, x), y, with_predictions=False)
    return ev.loss, ev.accuracy, ev.class_accuracy


INSIGHT_IMAGES = 2000  # test images projected each epoch: enough to see the classes, cheap on a CPU


def _insight(model: nn.Module, x_test: torch.Tensor, previous: np.ndarray | None, y_test: torch.Tensor) -> dict:
    _, filters = first_layer_filters(model)
    projection = pca_2d(hidden_features(model, x_test[:INSIGHT_IMAGES]), previous)
    model.train()
    return {"filters": filters, "projection": projection, "histograms": histograms(model),
            "network": network_insight(model, x_test, y_test)}


def warm_up(device: str = "cpu") -> None:
    """Pays PyTorch's one-off costs (the optimizers' lazy imports take seconds, the first matmuls of each shape
    pick their kernels) before anyone presses Start, with one step of the seed preset's model."""
    model = MLP(TrainConfig()).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.zeros(64, 784, device=device), torch.zeros(64, dtype=torch.long, device=device)
    F.cross_entropy(model(x), y).backward()
    opt.step()


def train(config: TrainConfig, dataset: Dataset | None = None, control: RunControl | None = None,
          log_every: int = 25, cuda_graph: bool = True, insight: bool = False) -> Iterator[Event]:
    """Trains per `config`, yielding events. Never raises for a failed run: it yields FailedEvent instead."""
    config = config.validated()
    control = control or RunControl()
    history: list[dict] = []
    epoch, step = 0, 0
    try:
        device = resolve_device(config.device)
        dataset = dataset or load_dataset()
        x_all, y_all, x_test, y_test = device_tensors(dataset, device)
        # Batches are index lists into the whole training set, shared by every session: the hold-out only leaves
        # its rows out, and a run never copies the training images (188 MB as float32).
        if config.val_size:
            rows, va = (t.to(device) for t in split_validation(x_all.shape[0], config.val_size, config.seed))
            x_val, y_val = x_all[va], y_all[va]
        else:
            rows, x_val, y_val = None, None, None

        with _SEED_LOCK:  # the global RNG is shared by every session's thread: seed and draw the init in one go
            torch.manual_seed(config.seed)
            model = MLP(config)  # drawn on the CPU, so the init is the same on every device
            rng = torch.Generator()
            rng.set_state(torch.get_rng_state())  # the rest of the notebook's RNG stream, privately
        model = model.to(device)
        model.train()
        use_graph = cuda_graph and device.type == "cuda"
        opt = make_optimizer(config, model, device, capturable=use_graph)
        stepper = _Step(model, opt, config, x_all, y_all, device)
        if use_graph:
            try:
                stepper.capture(config.batch_size)
            except Exception as exc:  # any capture failure leaves eager mode as a correct fallback
                stepper.graph = None
                stepper.static_idx = None
                yield NoteEvent(f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly")

        n = x_all.shape[0] if rows is None else rows.shape[0]
        bs = config.batch_size
        steps_per_epoch = math.ceil(n / bs)
        if config.batch_norm and n % bs == 1:
            steps_per_epoch -= 1  # batch norm cannot train on a batch of one image
        total = steps_per_epoch * config.epochs
        lr_scale, lr_changes = 1.0, []
        lr = lr_at(0, total, config.lr, config.schedule)
        best = (-1.0, None, None)  # (val acc, epoch, weights)
        start = time.perf_counter()
        paused = 0.0  # seconds spent paused so far: left out of elapsed time and throughput
        mark = (start, 0, 0.0)  # time, step and paused seconds at the previous StepEvent
        ep_loss = torch.zeros((), device=device)
        ep_correct = torch.zeros((), dtype=torch.long, device=device)
        ep_seen = 0
        previous_projection = None
        tracker = HealthTracker(model, x_test, steps_per_epoch)

        for epoch in range(1, config.epochs + 1):
            perm = _loader_order(rng, n).to(device)
            if rows is not None:
                perm = rows[perm]
            for i in range(steps_per_epoch):
                paused += control.between_steps()
                if control.stopped:
                    break
                scale = control.take_lr_scale()
                if scale is not None:
                    lr_scale = scale
                    lr_changes.append({"step": step, "epoch": epoch, "scale": scale})
                lr = lr_at(step, total, config.lr, config.schedule) * lr_scale
                _set_lr(opt, lr)
                single = control.take_single_step()  # Step while paused: its batch is shown before and after
                single = single and before_step(model, x_all, y_all, perm[i * bs:(i + 1) * bs])
                tracker.before(i)
                stepper(perm[i * bs:(i + 1) * bs])
                tracker.after(i)
                step += 1
                # Step 1 is published at once, so a chart has its first point as soon as training is under way.
                if step % log_every == 0 or step == 1 or i == steps_per_epoch - 1 or single:
                    loss_sum, correct, seen = stepper.take()
                    ep_loss += loss_sum
                    ep_correct += correct
                    ep_seen += seen
                    mean_loss = loss_sum.item() / seen  # the one sync per log interval
                    if not math.isfinite(mean_loss):
                        yield FailedEvent(
                            f"the loss became {mean_loss} at epoch {epoch}, step {step}: training diverged. "
                            "Try a lower learning rate (or batch norm).", epoch, step, history)
                        return
                    now = time.perf_counter()
                    active = now - mark[0] - (paused - mark[2])
                    yield StepEvent(epoch, step, total, mean_loss, lr, (step - mark[1]) * bs / max(active, 1e-9),
                                    now - start - paused)
                    mark = (now, step, paused)
                if single:
                    yield after_step(single, model, step, epoch)
            if control.stopped:
                break
            test_loss, test_acc, class_acc = _evaluate(model, x_test, y_test)
            _draw_seed(rng)  # the notebook's test DataLoader draws a seed per pass too
            val_loss = val_acc = None
            if x_val is not None:
                val_loss, val_acc, _ = _evaluate(model, x_val, y_val)
                if val_acc > best[0]:
                    keep = config.keep_best
                    best = (val_acc, epoch, {k: v.clone() for k, v in model.state_dict().items()} if keep else None)
            health, warnings = tracker.epoch_end()
            extra = _insight(model, x_test, previous_projection, y_test) if insight else None
            previous_projection = extra["projection"] if extra else None
            ev = EpochEvent(epoch, config.epochs, ep_loss.item() / ep_seen, 100.0 * ep_correct.item() / ep_seen,
                            test_loss, test_acc, class_acc, val_loss, val_acc, lr, time.perf_counter() - start - paused,
                            extra, health=health, warnings=warnings)
            ep_loss.zero_()
            ep_correct.zero_()
            ep_seen = 0
            history.append(ev.as_dict())
            yield ev

        best_epoch = best[1]
        if config.keep_best and best[2] is not None:
            model.load_state_dict(best[2])  # chosen on validation accuracy, never on the test set
        test_loss, test_acc, _ = _evaluate(model, x_test, y_test)
        model.eval()
        yield DoneEvent(TrainResult(config, model, history, test_acc, test_loss, time.perf_counter() - start - paused,
                                    device_label(device), control.stopped, best_epoch, lr_changes=lr_changes))
    except torch.cuda.OutOfMemoryError:
        yield FailedEvent("the GPU ran out of memory: try a smaller batch or fewer/narrower layers, "
                          "or train on the CPU", epoch, step, history)
    except Exception as exc:  # the worker thread must report, not die silently
        yield FailedEvent(f"{type(exc).__name__}: {exc}", epoch, step, history)
