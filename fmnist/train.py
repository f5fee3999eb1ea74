"""The trainer: the whole dataset on the device, index-slice batches, metrics kept on the device until read.

`train()` is a generator of events; whoever iterates it (the CLI, the app's worker thread, a test) decides what
to do with them. A RunControl lets another thread pause, resume, stop or change the learning rate between steps.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import resume as resume_files
from .checkpoints import CheckpointError
from .config import TrainConfig
from .data import BLACK, Dataset, device_tensors
from .evaluate import evaluate_logits, predict_logits
from .explain import first_layer_filters, hidden_features, pca_2d
from .health import HealthTracker, histograms, network_insight
from .memory import is_out_of_memory, out_of_memory
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
    # With eval_train (the seed preset): the notebook's "Train Acc.", eval mode over the training images its
    # loader yields after the epoch (59,968 with drop_last), and the mean loss over them.
    train_eval_acc: float | None = None
    train_eval_loss: float | None = None
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
    # Fused kernels: one pass over all parameters instead of a loop of small ops. On the CPU that is Adam(W) only
    # (32.8 -> 4.2 ms a step for 2048-2048, a quarter of the step); plain SGD stays unfused there, so the seed
    # preset's updates are exactly the notebook's.
    adam = config.optimizer in ("adam", "adamw")
    kw = {"fused": True} if device.type == "cuda" or (device.type == "cpu" and adam) else {}
    if capturable and adam:
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


def shift_batch(x: torch.Tensor, max_shift: int = 2, generator: torch.Generator | None = None,
                flip: bool = False) -> torch.Tensor:
    """Random translation of each image by up to max_shift pixels and, with `flip`, a left-right mirror of a random
    half (every Fashion-MNIST class is symmetric as a label), as one gather (no per-sample Python)."""
    b = x.shape[0]
    img = F.pad(x.view(b, 28, 28), (max_shift,) * 4, value=BLACK)
    d = torch.randint(0, 2 * max_shift + 1, (2, b, 1), device=x.device, generator=generator)
    ar = torch.arange(28, device=x.device)
    rows = (ar + d[0])[:, :, None]
    cols = ar.expand(b, 28)
    if flip:
        mirror = torch.rand(b, 1, device=x.device, generator=generator) < 0.5
        cols = torch.where(mirror, 27 - cols, cols)
    cols = (cols + d[1])[:, None, :]
    return img[torch.arange(b, device=x.device)[:, None, None], rows, cols].reshape(b, 784)


WARP_SHIFT = 1.0  # pixels each way, in fractions of a pixel too
WARP_ZOOM = 0.05  # up to 5% larger or smaller


def warp_batch(x: torch.Tensor, generator: torch.Generator | None = None, max_shift: float = WARP_SHIFT,
               max_zoom: float = WARP_ZOOM) -> torch.Tensor:
    """A random affine warp of each image, as one bilinear resampling of the batch: a shift of up to max_shift
    pixels across and down, fractions included, and a zoom by up to max_zoom, black beyond the edge. Gentler than
    whole-pixel shifts of 2, which cost an MLP accuracy: over a long schedule it gains instead (docs/benchmarks.md)."""
    b = x.shape[0]
    u = torch.rand(3, b, device=x.device, generator=generator) * 2 - 1
    zoom = 1 + u[0] * max_zoom
    zero = torch.zeros_like(zoom)
    step = 2 / 28  # one pixel in grid_sample's [-1, 1] coordinates (align_corners=False)
    theta = torch.stack([torch.stack([zoom, zero, u[1] * max_shift * step], 1),
                         torch.stack([zero, zoom, u[2] * max_shift * step], 1)], 1)
    grid = F.affine_grid(theta, [b, 1, 28, 28], align_corners=False)
    img = x.view(b, 1, 28, 28) - BLACK  # black is 0 here, so grid_sample's zero padding is black
    return (F.grid_sample(img, grid, align_corners=False) + BLACK).reshape(b, 784)


def split_validation(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded hold-out so the validation images are the same on every device and every run."""
    g = torch.Generator().manual_seed(seed + 1)
    perm = torch.randperm(n, generator=g)
    return perm[val_size:], perm[:val_size]


# CUDA-graph capture is process-wide state (PyTorch allows one capture underway at a time in a process), so runs
# started together in one process (the CLI's, the tests', threads in one server) capture one after another.
_CAPTURE_LOCK = threading.Lock()
WARMUP_STEPS = 3  # eager steps before a capture, as PyTorch's CUDA-graph guide does, on a side stream


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
        # Shifts, mirrors and warps draw from a generator of the run's own: another run's draws cannot move them, a
        # capture can put it back exactly as it was, and the resume file keeps it (dropout, which takes no generator,
        # uses the device's default one).
        self.rng = (torch.Generator(device=x.device).manual_seed(config.seed)
                    if config.augment or config.flip or config.warp else None)

    def _body(self, idx: torch.Tensor, zero: str = "none") -> None:
        # Gradients: freed before an eager step; zeroed in place around a graph (whose captured backward writes
        # into fixed tensors); neither inside the capture itself, where backward assigns fresh ones.
        if zero == "none":
            self.opt.zero_grad(set_to_none=True)
        elif zero == "inplace":
            self.opt.zero_grad(set_to_none=False)
        xb = self.x.index_select(0, idx)
        yb = self.y.index_select(0, idx)
        if self.config.augment or self.config.flip:
            xb = shift_batch(xb, 2 if self.config.augment else 0, generator=self.rng, flip=self.config.flip)
        if self.config.warp:
            xb = warp_batch(xb, generator=self.rng)
        with autocast(self.config, self.x.device):
            logits = self.model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=self.config.label_smoothing)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.loss_sum.add_(loss.detach() * idx.shape[0])
            self.correct.add_((logits.argmax(1) == yb).sum())

    def try_capture(self, batch_size: int) -> str | None:
        """Records the step as a CUDA graph for a fixed batch size. Returns None, or, when the capture fails, a
        note for the user: the step then trains eagerly, from exactly the state it started in."""
        try:
            with _CAPTURE_LOCK:
                self._capture(batch_size)
        except Exception as exc:  # any capture failure leaves eager mode as a correct fallback
            self._fall_back()
            return f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly"
        return None

    def _capture(self, batch_size: int) -> None:
        # Warm-up steps change the weights, batch-norm statistics, optimizer state, running sums and random
        # streams: all are put back afterwards, whether the capture worked or not.
        saved = self._snapshot()
        self.static_idx = torch.arange(batch_size, device=self.x.device)
        try:
            self.graph = self._record(self.static_idx)
        finally:
            self._restore(saved)

    def _record(self, idx: torch.Tensor) -> torch.cuda.CUDAGraph:
        """Warm-up and capture on a stream of this capture's own. The explicit stream context puts the thread back
        on its own stream even when capture_end() raises (torch.cuda.graph then skips its stream exit)."""
        stream = torch.cuda.Stream(self.x.device)
        stream.wait_stream(torch.cuda.current_stream(self.x.device))
        with torch.cuda.stream(stream):
            self._warm_up(idx)
            graph = torch.cuda.CUDAGraph()
            if self.rng is not None:
                graph.register_generator_state(self.rng)  # a private generator must be registered before capture
            self.opt.zero_grad(set_to_none=True)
            # thread_local: another thread's eager CUDA work does not break this capture, nor this capture it.
            with torch.cuda.graph(graph, stream=stream, capture_error_mode="thread_local"):
                self._body(idx, zero="skip")
        torch.cuda.current_stream(self.x.device).wait_stream(stream)
        return graph

    def _warm_up(self, idx: torch.Tensor) -> None:
        # A capturable optimizer warns when it steps outside a capture: these steps are meant to.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            for _ in range(WARMUP_STEPS):
                self._body(idx)

    def _generators(self) -> list[torch.Generator]:
        device = self.x.device
        if device.type == "cuda":
            default = torch.cuda.default_generators[device.index if device.index is not None
                                                    else torch.cuda.current_device()]
        else:
            default = torch.default_generator
        return [g for g in (default, self.rng) if g is not None]

    def _snapshot(self) -> tuple[list[torch.Tensor], list[tuple[torch.Generator, torch.Tensor]]]:
        return ([t.detach().clone() for t in self._state_tensors()],
                [(g, g.get_state()) for g in self._generators()])

    def _restore(self, saved) -> None:
        if self.x.device.type == "cuda":
            torch.cuda.synchronize(self.x.device)  # the warm-up's work may still be queued on the side stream
        tensors, rng_states = saved
        current = self._state_tensors()
        with torch.no_grad():
            for t, s in zip(current, tensors):
                t.copy_(s)
            # Optimizer state (moments, momentum buffers, step counts) was created by the warm-up: a zeroed state
            # is exactly what a fresh optimizer would have started from.
            for t in current[len(tensors):]:
                t.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()
        self.seen = 0
        # Reseeded: the first replay draws the dropout masks and shifts the first eager step would have drawn.
        for g, state in rng_states:
            g.set_state(state)

    def _fall_back(self) -> None:
        self.release()
        # capturable=True keeps the slow path (and warns) outside a graph: an eager optimizer of the same settings.
        self.opt = make_optimizer(self.config, self.model, self.x.device)

    def release(self) -> None:
        """Drops the graph and the gradients, which live in the graph's private memory pool: a finished run's model
        would otherwise hold that pool for as long as it is kept."""
        self.graph = None
        self.static_idx = None
        for p in self.model.parameters():
            p.grad = None

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


def autocast(config: TrainConfig, device: torch.device):
    """bf16 autocast for the forward pass and loss when asked for (matmuls in bf16, reductions in fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")


def bf16_problem(device: torch.device) -> str | None:
    """Why bf16 cannot be used on this device, or None when it can."""
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bf16 support: use --precision fp32"
    if device.type == "cpu":
        return None if torch.ops.mkldnn._is_mkldnn_bf16_supported() else \
            "this CPU has no bf16 instructions (AVX512-BF16 or AMX): use --precision fp32"
    return f"bf16 is offered on CPUs and CUDA GPUs, not on {device.type}: use --precision fp32"


class WeightAverage:
    """An exponential moving average of the weights and batch-norm statistics, scored instead of the raw
    weights: it smooths out the noise of the last steps. The decay ramps up from 0 (as in timm's ModelEmaV2 warm-up)
    so the early average is not dominated by the random init."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model)
        self.decay = decay
        self.updates = 0
        self._src = [t for t in model.state_dict().values() if t.is_floating_point()]
        self._dst = [t for t in self.model.state_dict().values() if t.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self._dst, self._src, 1 - d)


def notebook_eval_draws(rng: torch.Generator, n: int) -> torch.Tensor:
    """After each epoch the notebook iterates its shuffled training loader, then its test loader, to evaluate.
    Each pass draws from the global RNG (base seed, and the sampler's seed for the shuffled one), which moves the
    next epoch's shuffle: the same draws here keep our batches the notebook's. Returns the order of the
    training-set pass."""
    order = _loader_order(rng, n)  # the train-eval pass: base seed + sampler seed
    _draw_seed(rng)  # the test pass: base seed (its sampler is sequential)
    return order


def train_eval_score(config: TrainConfig, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     rows: torch.Tensor | None, order: torch.Tensor) -> tuple[float | None, float | None]:
    """With eval_train, the notebook's "Train Acc.": eval mode over the images its training-set pass (in `order`)
    yields, all but the dropped partial batch; (accuracy %, mean loss), else (None, None). Batch order cannot
    change the figure, so all images are scored at once. The notebook's printed loss is not this mean: it divides
    a sum of batch means by the number of images."""
    if not config.eval_train:
        return None, None
    n = order.shape[0]
    kept = (order[:n - n % config.batch_size] if config.drop_last else order).to(x.device)
    idx = kept if rows is None else rows[kept]  # rows of x
    logits = predict_logits(model, x)  # chunked views of the shared tensor: no copy of the training images
    ev = evaluate_logits(logits.index_select(0, idx), y.index_select(0, idx), with_predictions=False)
    return ev.accuracy, ev.loss


def seeded_init(config: TrainConfig) -> tuple[MLP, torch.Generator]:
    """The model drawn as the notebook draws it right after torch.manual_seed, and the rest of that RNG stream
    in a private generator (the global RNG is shared by every session's thread: seed and draw in one go)."""
    with _SEED_LOCK:
        torch.manual_seed(config.seed)
        model = MLP(config)  # drawn on the CPU, so the init is the same on every device
        rng = torch.Generator()
        rng.set_state(torch.get_rng_state())
    return model, rng


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


@dataclass
class _Resumed:
    """Where a run starts: nothing done yet, or the last completed epoch of an interrupted run."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    lr_scale: float = 1.0
    lr_changes: list[dict] = field(default_factory=list)
    best: tuple = (-1.0, None, None)  # (val acc, epoch, weights)
    elapsed_s: float = 0.0


def _resume_state(resume: resume_files.ResumeFile | None, config: TrainConfig, model: nn.Module,
                  opt: torch.optim.Optimizer, rng: torch.Generator, augment_rng: torch.Generator | None) -> _Resumed:
    """Claims the run's resume file and, when continuing a run, puts its last completed epoch back in place
    (in place: a captured CUDA graph keeps pointing at the same tensors)."""
    if resume is None:
        return _Resumed()
    resume.claim()
    if not resume.resume:
        return _Resumed()
    meta, t = resume_files.read(resume.path)
    if TrainConfig.from_dict(meta["config"]) != config:
        raise resume_files.ResumeError(f"{resume.path.name} holds another run's settings")
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(t["model." + k])
    params = [p for g in opt.param_groups for p in g["params"]]
    for key, v in t.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state, current = opt.state[params[int(i)]], opt.state[params[int(i)]].get(name)
            if isinstance(current, torch.Tensor) and current.shape == v.shape:
                current.copy_(v)
            else:  # a fresh optimizer has no state yet: Adam's step count stays on the CPU, moments on the device
                state[name] = v if name == "step" else v.to(params[int(i)].device)
    rng.set_state(t["rng.trainer"])
    if augment_rng is not None and "rng.augment" in t:  # mirrors, shifts and warps go on where they were
        augment_rng.set_state(t["rng.augment"])
    torch.set_rng_state(t["rng.torch"])  # dropout draws from the global generator
    if "rng.cuda" in t and torch.cuda.is_available():
        torch.cuda.set_rng_state(t["rng.cuda"])
    best_w = {k.removeprefix("best."): v for k, v in t.items() if k.startswith("best.")} or None
    return _Resumed(meta["epoch"], meta["step"], meta["history"], meta["lr_scale"], meta["lr_changes"],
                    (meta["best_val_acc"], meta["best_epoch"], best_w), meta["elapsed_s"])


def _save_resume(resume: resume_files.ResumeFile | None, config: TrainConfig, model: nn.Module,
                 opt: torch.optim.Optimizer, rng: torch.Generator, augment_rng: torch.Generator | None,
                 history: list[dict], step: int, lr_scale: float, lr_changes: list[dict], best: tuple,
                 elapsed_s: float) -> Iterator[NoteEvent]:
    """Writes the epoch just completed, after the epoch's last RNG draw. A failed write (a full disk) costs only
    the ability to resume: the run goes on, and says so once."""
    if resume is None:
        return
    tensors = {"model." + k: v for k, v in model.state_dict().items()}
    params = {id(p): i for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
    for p, state in opt.state.items():
        tensors.update({f"opt.{params[id(p)]}.{k}": v for k, v in state.items() if isinstance(v, torch.Tensor)})
    tensors.update({"rng.trainer": rng.get_state(), "rng.torch": torch.get_rng_state()})
    if augment_rng is not None:
        tensors["rng.augment"] = augment_rng.get_state()
    if next(model.parameters()).device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    if best[2] is not None:
        tensors.update({"best." + k: v for k, v in best[2].items()})
    meta = {"config": config.to_dict(), "epoch": len(history), "step": step, "history": history,
            "lr_scale": lr_scale, "lr_changes": lr_changes, "best_val_acc": best[0], "best_epoch": best[1],
            "elapsed_s": elapsed_s}
    try:
        resume.write(tensors, meta)
    except CheckpointError as exc:
        if not resume.failed:
            resume.failed = True
            yield NoteEvent(f"{exc}: this run could not be resumed after a crash")


def _end_resume(resume: resume_files.ResumeFile | None) -> None:
    if resume is not None:
        resume.finish()


class _Run:
    """One run's state and its named steps: set_up(), then per epoch steps() and end_of_epoch(), then finish().
    train() drives them; each yields the events it produces."""

    def __init__(self, config: TrainConfig, dataset: Dataset | None, control: RunControl, log_every: int,
                 cuda_graph: bool, insight: bool, resume: resume_files.ResumeFile | None):
        self.config, self.dataset, self.control, self.log_every = config, dataset, control, log_every
        self.cuda_graph, self.insight, self.resume = cuda_graph, insight, resume
        self.history: list[dict] = []
        self.epoch = self.step = 0
        self.diverged = False

    def set_up(self) -> Iterator[Event]:
        """The data on the device, the model drawn from the seed, optimizer and step (captured on CUDA), and an
        interrupted run's last epoch put back."""
        config = self.config
        self.device = device = resolve_device(config.device)
        if config.precision == "bf16" and bf16_problem(device):  # a preset's bf16 on a machine without it
            yield NoteEvent(f"training in fp32: {bf16_problem(device)}")
            self.config = config = config.replace(precision="fp32")
        self.x_all, self.y_all, self.x_test, self.y_test = device_tensors(self.dataset, device)
        # Batches are index lists into the whole training set, shared by every session: the hold-out only leaves
        # its rows out, and a run never copies the training images (188 MB as float32).
        if config.val_size:
            self.rows, va = (t.to(device) for t in split_validation(self.x_all.shape[0], config.val_size,
                                                                     config.seed))
            self.x_val, self.y_val = self.x_all[va], self.y_all[va]
        else:
            self.rows, self.x_val, self.y_val = None, None, None
        model, self.rng = seeded_init(config)
        self.model = model = model.to(device)
        model.train()
        use_graph = self.cuda_graph and device.type == "cuda"
        self.opt = make_optimizer(config, model, device, capturable=use_graph)
        self.stepper = _Step(model, self.opt, config, self.x_all, self.y_all, device)
        if use_graph and (note := self.stepper.try_capture(config.batch_size)):
            self.opt = self.stepper.opt  # the eager fallback's optimizer, rebuilt without capturable
            yield NoteEvent(note)
        try:
            r = _resume_state(self.resume, config, model, self.opt, self.rng, self.stepper.rng)
        except OSError as exc:
            if self.resume.resume:
                raise  # the run to go on with cannot be read: that run fails, with the reason
            # A new run whose resume file cannot be made (a read-only or full folder): it trains all the same, and
            # its save at the end will say the same of the checkpoint.
            yield NoteEvent(f"{exc.strerror or exc} ({exc.filename}): this run could not be resumed after a crash")
            self.resume, r = None, _Resumed()
        self.history.extend(r.history)
        self.step, self.first_epoch = r.step, r.epoch + 1
        self.average = WeightAverage(model, config.ema) if config.ema else None  # after a resume: from its weights
        self.scored = self.average.model if self.average else model  # what is evaluated, kept and returned
        self._count_steps()
        self.lr_scale, self.lr_changes, self.best = r.lr_scale, r.lr_changes, r.best  # best: (val acc, epoch, weights)
        self.lr = lr_at(0, self.total, config.lr, config.schedule)
        self.start = time.perf_counter() - r.elapsed_s
        self.paused = 0.0  # seconds spent paused so far: left out of elapsed time and throughput
        self.mark = (time.perf_counter(), self.step, 0.0)  # time, step and paused seconds at the previous StepEvent
        self.ep_loss = torch.zeros((), device=device)
        self.ep_correct = torch.zeros((), dtype=torch.long, device=device)
        self.ep_seen = 0
        self.previous_projection = None
        self.tracker = HealthTracker(model, self.x_test, self.steps_per_epoch)

    def _count_steps(self) -> None:
        config = self.config
        self.n = n = self.x_all.shape[0] if self.rows is None else self.rows.shape[0]
        bs = config.batch_size
        self.steps_per_epoch = n // bs if config.drop_last else math.ceil(n / bs)
        if config.batch_norm and n % bs == 1:
            self.steps_per_epoch -= 1  # batch norm cannot train on a batch of one image
        self.total = self.steps_per_epoch * config.epochs

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def steps(self) -> Iterator[Event]:
        """One epoch's steps in the notebook's shuffled order, publishing the loss every log_every steps."""
        config, control, bs = self.config, self.control, self.config.batch_size
        perm = _loader_order(self.rng, self.n).to(self.device)
        if self.rows is not None:
            perm = self.rows[perm]
        for i in range(self.steps_per_epoch):
            if control.paused and self.step > self.mark[1]:
                yield self._log_point()  # where a paused run stands, not the last multiple of log_every
                if self.diverged:
                    return
            self.paused += control.between_steps()
            if control.stopped:
                return
            scale = control.take_lr_scale()
            if scale is not None:
                self.lr_scale = scale
                self.lr_changes.append({"step": self.step, "epoch": self.epoch, "scale": scale})
            self.lr = lr_at(self.step, self.total, config.lr, config.schedule) * self.lr_scale
            _set_lr(self.opt, self.lr)
            batch = perm[i * bs:(i + 1) * bs]
            single = control.take_single_step()  # Step while paused: its batch is shown before and after
            single = single and before_step(self.model, self.x_all, self.y_all, batch)
            self.tracker.before(i)
            self.stepper(batch)
            if self.average:
                self.average.update()
            self.tracker.after(i)
            self.step += 1
            # Step 1 is published at once, so a chart has its first point as soon as training is under way.
            if self.step % self.log_every == 0 or self.step == 1 or i == self.steps_per_epoch - 1 or single:
                yield self._log_point()
                if self.diverged:
                    return
            if single:
                yield after_step(single, self.model, self.step, self.epoch)

    def _log_point(self) -> StepEvent | FailedEvent:
        loss_sum, correct, seen = self.stepper.take()
        self.ep_loss += loss_sum
        self.ep_correct += correct
        self.ep_seen += seen
        mean_loss = loss_sum.item() / seen  # the one sync per log interval
        if not math.isfinite(mean_loss):
            self.diverged = True
            return FailedEvent(f"the loss became {mean_loss} at epoch {self.epoch}, step {self.step}: training "
                               "diverged. Try a lower learning rate (or batch norm).", self.epoch, self.step)
        now = time.perf_counter()
        active = now - self.mark[0] - (self.paused - self.mark[2])
        ev = StepEvent(self.epoch, self.step, self.total, mean_loss, self.lr,
                       (self.step - self.mark[1]) * self.config.batch_size / max(active, 1e-9), now - self.start
                       - self.paused)
        self.mark = (now, self.step, self.paused)
        return ev

    def end_of_epoch(self) -> Iterator[Event]:
        """Scores the epoch (test, validation, the notebook's training pass), keeps the best epoch, measures the
        layers' health and the insight, saves the resume file and publishes the EpochEvent."""
        config, scored, epoch = self.config, self.scored, self.epoch
        train_eval = train_eval_score(config, scored, self.x_all, self.y_all, self.rows,
                                      notebook_eval_draws(self.rng, self.n))
        test_loss, test_acc, class_acc = _evaluate(scored, self.x_test, self.y_test)
        val_loss = val_acc = None
        if self.x_val is not None:
            val_loss, val_acc, _ = _evaluate(scored, self.x_val, self.y_val)
            if val_acc > self.best[0]:
                weights = {k: v.clone() for k, v in scored.state_dict().items()} if config.keep_best else None
                self.best = (val_acc, epoch, weights)
        lr_share = lr_at(self.step - 1, self.total, config.lr, config.schedule) / config.lr
        health, warnings = self.tracker.epoch_end(lr_share)
        extra = _insight(scored, self.x_test, self.previous_projection, self.y_test) if self.insight else None
        self.previous_projection = extra["projection"] if extra else None
        ev = EpochEvent(epoch, config.epochs, self.ep_loss.item() / self.ep_seen,
                        100.0 * self.ep_correct.item() / self.ep_seen, test_loss, test_acc, class_acc, val_loss,
                        val_acc, self.lr, self.elapsed, extra, *train_eval, health=health, warnings=warnings)
        self.ep_loss.zero_()
        self.ep_correct.zero_()
        self.ep_seen = 0
        self.history.append(ev.as_dict())
        yield from _save_resume(self.resume, config, self.model, self.opt, self.rng, self.stepper.rng,
                                self.history, self.step, self.lr_scale, self.lr_changes, self.best, self.elapsed)
        yield ev

    def finish(self) -> DoneEvent:
        """The best epoch's weights when asked (chosen on validation accuracy, never on the test set), scored once."""
        scored = self.scored
        if self.config.keep_best and self.best[2] is not None:
            scored.load_state_dict(self.best[2])
        self.stepper.release()
        test_loss, test_acc, _ = _evaluate(scored, self.x_test, self.y_test)
        scored.eval()
        _end_resume(self.resume)
        return DoneEvent(TrainResult(self.config, scored, self.history, test_acc, test_loss, self.elapsed,
                                     device_label(self.device), self.control.stopped, self.best[1],
                                     lr_changes=self.lr_changes))


def train(config: TrainConfig, dataset: Dataset | None = None, control: RunControl | None = None,
          log_every: int = 25, cuda_graph: bool = True, insight: bool = False,
          resume: resume_files.ResumeFile | None = None) -> Iterator[Event]:
    """Trains per `config`, yielding events. Never raises for a failed run: it yields FailedEvent instead.
    With `resume`, each completed epoch is kept in that file (fmnist/resume.py), and a run already in it goes on."""
    run = _Run(config.validated(), dataset, control or RunControl(), log_every, cuda_graph, insight, resume)
    try:
        yield from run.set_up()
        for epoch in range(run.first_epoch, run.config.epochs + 1):
            run.epoch = epoch
            yield from run.steps()
            if run.diverged:
                _end_resume(run.resume)  # a diverged run is over, not interrupted
                return
            if run.control.stopped:
                break
            yield from run.end_of_epoch()
        yield run.finish()
    except torch.cuda.OutOfMemoryError:
        yield FailedEvent("the GPU ran out of memory: try a smaller batch or fewer/narrower layers, "
                          "or train on the CPU", run.epoch, run.step)
    except Exception as exc:  # the worker must report, not die silently; the resume file keeps the last epoch
        reason = out_of_memory(run.config, run.epoch) if is_out_of_memory(exc) else f"{type(exc).__name__}: {exc}"
        yield FailedEvent(reason, run.epoch, run.step)
    finally:
        if run.resume is not None:
            run.resume.release()  # an unfinished run's file stays, free to be resumed
