"""The 2-D playground: tiny networks on points in the plane, where you can see why layers matter (XOR to spirals).

Plain numpy with a hand-written forward and backward pass: for networks of a few units on a few hundred points,
torch's per-call overhead would cost more than the arithmetic, and the app's Playground page stays free of torch.

A `Setup` describes everything (data, features, network, training); `Playground(setup)` holds the data and the
network; `.step()` trains on one batch; `.steps()` is the same as a generator; `.grid()` is the decision surface and
every hidden unit's output over a square grid of the plane, all from one batched forward pass. `train(setup, steps)`
is the generator the CLI prints: progress events, then a final one with train/test accuracy (percent) and loss.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from fmnist.messages import N_

DATASETS = ("xor", "circles", "gaussians", "spirals")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin x1", "sin x2")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
MAX_LAYERS = 6
MAX_UNITS = 8
MIN_POINTS, MAX_POINTS = 20, 2000
MAX_NOISE = 1.0
EXTENT = 6.0  # the plane shown and sampled is [-EXTENT, EXTENT]^2, as in TensorFlow Playground
GRID = 80


class SetupError(ValueError):
    """One message per bad field, so a form can show each next to its control (like config.ConfigError)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True)
class Setup:
    dataset: str = "xor"
    points: int = 400  # both classes together, before the split
    noise: float = 0.0  # 0 = clean; 1 = classes overlap heavily
    train_fraction: float = 0.5
    seed: int = 0  # draws the points and the initial weights
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (2,)  # () = no hidden layer: a linear model with a sigmoid
    activation: str = "tanh"
    lr: float = 0.03
    batch_size: int = 10
    l1: float = 0.0
    l2: float = 0.0

    def replace(self, **changes) -> Setup:
        return dataclasses.replace(self, **changes)

    def errors(self) -> dict[str, str]:
        """Every problem of this setup, by field name; empty when it is valid."""
        e: dict[str, str] = {}
        _choice(e, "dataset", self.dataset, DATASETS)
        _choice(e, "activation", self.activation, ACTIVATIONS)
        if not _is_int(self.points) or not MIN_POINTS <= self.points <= MAX_POINTS:
            e["points"] = N_("use {low} to {high} points (got {got})").format(low=MIN_POINTS, high=MAX_POINTS,
                                                                                got=self.points)
        if not _is_num(self.noise) or not 0 <= self.noise <= MAX_NOISE:
            e["noise"] = N_("noise must be between 0 and {high} (got {got})").format(high=f"{MAX_NOISE:g}",
                                                                                      got=self.noise)
        if not _is_num(self.train_fraction) or not 0.1 <= self.train_fraction <= 0.9:
            e["train_fraction"] = N_("the training share must be between 0.1 and 0.9")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            e["seed"] = N_("seed must be a whole number from 0")
        if not isinstance(self.features, (tuple, list)) or not self.features:
            e["features"] = N_("choose at least one input feature")
        elif unknown := [f for f in self.features if f not in FEATURES]:
            e["features"] = N_("unknown feature {name}; choose from {options}").format(name=repr(unknown[0]),
                                                                                     options=", ".join(FEATURES))
        elif len(set(self.features)) != len(self.features):
            e["features"] = N_("each feature once")
        if not isinstance(self.hidden, (tuple, list)) or not all(_is_int(w) for w in self.hidden):
            e["hidden"] = N_("hidden layers must be whole numbers of units")
        elif len(self.hidden) > MAX_LAYERS:
            e["hidden"] = N_("use 0 to {high} hidden layers (got {got})").format(high=MAX_LAYERS, got=len(self.hidden))
        elif any(not 1 <= w <= MAX_UNITS for w in self.hidden):
            e["hidden"] = N_("each layer needs 1 to {high} units (got {got})").format(
                high=MAX_UNITS, got=", ".join(map(str, self.hidden)))
        if not _is_num(self.lr) or not 0 < self.lr <= 10:
            e["lr"] = N_("learning rate must be above 0 and at most 10")
        n_train = self.n_train if "points" not in e and "train_fraction" not in e else None
        if not _is_int(self.batch_size) or not 1 <= self.batch_size <= (n_train or MAX_POINTS):
            e["batch_size"] = N_("batch size must be between 1 and the {n} training points").format(
                n=n_train or MAX_POINTS)
        for name, error in (("l1", N_("L1 rate must be between 0 and 1")),
                            ("l2", N_("L2 rate must be between 0 and 1"))):
            value = getattr(self, name)
            if not _is_num(value) or not 0 <= value <= 1:
                e[name] = error
        return e

    def validated(self) -> Setup:
        if errors := self.errors():
            raise SetupError(errors)
        return self

    @property
    def n_train(self) -> int:
        return max(1, min(self.points - 1, round(self.points * self.train_fraction)))

    def describe(self) -> str:
        layers = " → ".join(map(str, (len(self.features), *self.hidden, 1)))
        return f"{self.dataset}, {layers} {self.activation if self.hidden else 'linear model'}"


@dataclass(frozen=True)
class Lesson:
    """One step of the tutorial's story as a setup to train, and why it turns out as it does (two sentences)."""
    title: str
    setup: Setup
    why: str


LESSONS = {
    "line": Lesson(N_("XOR with a line"), Setup(hidden=()),
                   N_("With no hidden layer the network is a single straight line, and no line puts both blue corners "
                      "on one side and both orange ones on the other. The best a line can do is three clusters of "
                      "four (75%), and training usually settles lower, near a coin toss.")),
    "two_units": Lesson(N_("XOR with two hidden units"), Setup(hidden=(2,)),
                        N_("Each hidden unit draws a line of its own (see its thumbnail), and the output unit keeps "
                           "the band between the two lines for one class: stack a layer, and two lines do what one "
                           "cannot. Not on every seed, though: 79 seeds of 100 solve it within 2,000 steps, and the "
                           "other 21 stick in a local minimum.")),
    "depth": Lesson(N_("Spirals need depth"), Setup(dataset="spirals", hidden=(8, 8, 8), lr=0.1),
                    N_("Two interleaved spirals cannot be cut by a few lines, so one layer is not enough. Three layers "
                       "of eight bend lines into curves and curves into spirals: watch the deeper thumbnails take "
                       "shapes the first layer cannot draw.")),
}


def _choice(e: dict, name: str, value, options) -> None:
    if value not in options:
        e[name] = N_("choose one of {options} (got {got})").format(options=", ".join(options), got=repr(value))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


# Datasets: points in [-EXTENT, EXTENT]^2 with labels 0 / 1, half of each class.

def make_points(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points of dataset `name` as (x (n, 2) float64, y (n,) of 0/1), shuffled."""
    half = n // 2
    y = np.r_[np.zeros(n - half), np.ones(half)]
    if name == "xor":
        # Four clusters at the corners of a square, as in the tutorial's XOR: class 1 on one diagonal.
        corner = rng.choice((-1.0, 1.0), size=n)
        x = 3.0 * np.c_[corner, np.where(y == 1, -corner, corner)] + rng.normal(0, 0.7 + 1.5 * noise, size=(n, 2))
    elif name == "circles":
        r = np.where(y == 1, rng.uniform(0, 2.0, n), rng.uniform(3.5, 5.0, n))
        t = rng.uniform(0, 2 * np.pi, n)
        x = np.c_[r * np.cos(t), r * np.sin(t)] + rng.normal(0, 1.5 * noise, size=(n, 2))
    elif name == "gaussians":
        centre = np.where(y[:, None] == 1, 2.0, -2.0)
        x = centre + rng.normal(0, 1.0 + 2.0 * noise, size=(n, 2))
    elif name == "spirals":
        # Two arms a half-turn apart, each winding 1.25 times out to radius 5.
        s = rng.uniform(0, 1, n)
        r = 0.4 + 4.6 * s
        t = 1.25 * 2 * np.pi * s + np.pi * y
        x = np.c_[r * np.sin(t), r * np.cos(t)] + rng.normal(0, 0.8 * noise, size=(n, 2))
    else:
        raise ValueError(f"unknown dataset {name!r}")
    order = rng.permutation(n)
    return np.clip(x[order], -EXTENT, EXTENT), y[order]


def features(x: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The chosen input features of points x (n, 2), one column each."""
    x1, x2 = x[:, 0], x[:, 1]
    # Squares and the product are scaled by 1/EXTENT so every feature spans about the same range as x1 and x2.
    table = {"x1": lambda: x1, "x2": lambda: x2, "x1^2": lambda: x1 * x1 / EXTENT, "x2^2": lambda: x2 * x2 / EXTENT,
             "x1*x2": lambda: x1 * x2 / EXTENT, "sin x1": lambda: np.sin(x1), "sin x2": lambda: np.sin(x2)}
    return np.stack([table[n]() for n in names], axis=1)


# The network: weights[l] is (fan_in, fan_out), the last layer has one output unit (a logit).

def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def _act_grad(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """d act / d z, from the pre-activation z and the activation a."""
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        return a * (1 - a)
    return np.ones_like(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -z))


def log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy of logits against 0/1 labels, stable for large logits."""
    return float(np.mean(np.logaddexp(0, logits) - y * logits))


@dataclass
class Network:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str

    @classmethod
    def init(cls, sizes: tuple[int, ...], activation: str, rng: np.random.Generator) -> Network:
        # Glorot-uniform weights, the first layer's divided by EXTENT as its inputs span +-EXTENT, not +-1 (this also
        # makes 2-unit XOR land in its two-line solution far more often); biases 0.1 as in TensorFlow Playground.
        weights = [rng.uniform(-1, 1, (a, b)) * math.sqrt(6 / (a + b)) / (EXTENT if i == 0 else 1)
                   for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        biases = [np.full(b, 0.1) for b in sizes[1:]]
        return cls(weights, biases, activation)

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(pre-activations, activations) of every layer; activations[0] is x, the last pre-activation the logit."""
        zs, acts = [], [x]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = acts[-1] @ w + b
            zs.append(z)
            if i < last:
                acts.append(_act(self.activation, z))
        return zs, acts

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0][-1][:, 0]

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Batch loss and d loss / d each weight and bias (no regularisation)."""
        zs, acts = self.forward(x)
        logit = zs[-1][:, 0]
        delta = ((sigmoid(logit) - y) / len(y))[:, None]  # d mean-BCE / d logit
        gw, gb = [None] * len(self.weights), [None] * len(self.weights)
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i] = acts[i].T @ delta
            gb[i] = delta.sum(axis=0)
            if i:
                delta = (delta @ self.weights[i].T) * _act_grad(self.activation, zs[i - 1], acts[i])
        return log_loss(logit, y), gw, gb


@dataclass(frozen=True)
class StepEvent:
    kind = "step"
    step: int
    batch_loss: float


@dataclass(frozen=True)
class Metrics:
    step: int
    train_loss: float
    test_loss: float
    train_acc: float  # percent, as everywhere in fmnist
    test_acc: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Grid:
    """Outputs over a resolution x resolution grid of the plane, row 0 at y = -EXTENT (Plotly heatmap order)."""
    axis: np.ndarray  # (resolution,) coordinates of the rows and columns
    output: np.ndarray  # (resolution, resolution) probability of class 1
    units: list[np.ndarray]  # per hidden layer, (units, resolution, resolution) activations
    inputs: np.ndarray  # (features, resolution, resolution): what each input feature is over the plane


class Playground:
    """The data and the network of one Setup, and its training so far."""

    def __init__(self, setup: Setup):
        self.setup = setup.validated()
        data_rng, init_rng, self._batch_rng = (np.random.default_rng([setup.seed, k]) for k in range(3))
        points, labels = make_points(setup.dataset, setup.points, setup.noise, data_rng)
        n = setup.n_train
        self.x_train, self.y_train = points[:n], labels[:n]
        self.x_test, self.y_test = points[n:], labels[n:]
        self._f_train = features(self.x_train, setup.features)
        self._f_test = features(self.x_test, setup.features)
        self.net = Network.init((len(setup.features), *setup.hidden, 1), setup.activation, init_rng)
        self.step_count = 0
        self._order = np.empty(0, dtype=np.int64)
        self._grid_points: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def retune(self, setup: Setup) -> bool:
        """Takes the new learning rate, batch size and regularisation of `setup` without starting over, as
        Playground does; False (nothing changed) when the setup differs in anything else."""
        setup = setup.validated()
        keep = ("lr", "batch_size", "l1", "l2")
        if setup.replace(**{k: getattr(self.setup, k) for k in keep}) != self.setup:
            return False
        self.setup = setup
        return True

    def _next_batch(self) -> np.ndarray:
        # Epochs of shuffled batches, as SGD usually goes; a batch never spans two epochs.
        b = self.setup.batch_size
        if len(self._order) < b:
            self._order = self._batch_rng.permutation(len(self.y_train))
        batch, self._order = self._order[:b], self._order[b:]
        return batch

    def step(self) -> StepEvent:
        """One SGD step on one batch."""
        s = self.setup
        idx = self._next_batch()
        loss, gw, gb = self.net.gradients(self._f_train[idx], self.y_train[idx])
        for w, g, b, h in zip(self.net.weights, gw, self.net.biases, gb):
            if s.l2:
                g = g + s.l2 * w
            if s.l1:
                g = g + s.l1 * np.sign(w)
            w -= s.lr * g
            b -= s.lr * h
        self.step_count += 1
        return StepEvent(self.step_count, loss)

    def steps(self) -> Iterator[StepEvent]:
        """Training as a generator: one step per next()."""
        while True:
            yield self.step()

    def metrics(self) -> Metrics:
        tr, te = self.net.logits(self._f_train), self.net.logits(self._f_test)
        return Metrics(self.step_count, log_loss(tr, self.y_train), log_loss(te, self.y_test),
                       _accuracy(tr, self.y_train), _accuracy(te, self.y_test))

    def grid(self, resolution: int = GRID) -> Grid:
        """The decision surface and every hidden unit's output over the plane, from one batched forward pass."""
        if resolution not in self._grid_points:
            axis = np.linspace(-EXTENT, EXTENT, resolution)
            gx, gy = np.meshgrid(axis, axis)  # row i is y = axis[i]
            self._grid_points[resolution] = (axis, features(np.c_[gx.ravel(), gy.ravel()], self.setup.features))
        axis, inputs = self._grid_points[resolution]
        zs, acts = self.net.forward(inputs)
        shape = (resolution, resolution)
        units = [a.T.reshape(-1, *shape) for a in acts[1:]]
        return Grid(axis, sigmoid(zs[-1][:, 0]).reshape(shape), units, inputs.T.reshape(-1, *shape))


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(100 * np.mean((logits > 0) == (y == 1)))


# A run is stuck when its training loss has fallen by less than STUCK_DROP of itself over the last STUCK_WINDOW steps
# while it still gets more than (100 - SOLVED_ACC)% of the training points wrong. Over seeds 0-99 (docs/benchmarks.md)
# every XOR run that ended unsolved had fallen by at most 6% in its last 500 steps, every solving one by 18% or more.
STUCK_WINDOW, STUCK_DROP, SOLVED_ACC = 500, 0.1, 95.0
STUCK_TWO_UNITS = N_("stuck in a local minimum: the two units split the plane so that one cluster stays on the wrong "
                     "side; another seed draws new starting weights, and with 3 or more units this rarely happens")
STUCK_OTHER = N_("stuck in a local minimum: the loss has stopped falling while some training points are still on the "
                 "wrong side; another seed draws new starting weights, and more units make this rarer")


def is_stuck(history: list[Metrics]) -> bool:
    """True when the run whose metrics these are (oldest first) has stopped learning short of the data: the loss
    flat over the last STUCK_WINDOW steps (compared with the latest point at least that old) and training accuracy
    under SOLVED_ACC. False while the history is shorter than the window."""
    if not history or history[-1].train_acc >= SOLVED_ACC:
        return False
    last = history[-1]
    before = [m for m in history if m.step <= last.step - STUCK_WINDOW]
    if not before:
        return False
    return before[-1].train_loss - last.train_loss < STUCK_DROP * before[-1].train_loss


def stuck_message(setup: Setup) -> str:
    """What to say about a stuck run of this setup (the two-unit tanh net has its own, measured, story)."""
    return STUCK_TWO_UNITS if tuple(setup.hidden) == (2,) and setup.activation == "tanh" else STUCK_OTHER


@dataclass(frozen=True)
class DoneEvent:
    kind = "done"
    metrics: Metrics
    elapsed_s: float
    stuck: bool = False  # is_stuck() at the end


@dataclass(frozen=True)
class ProgressEvent:
    kind = "progress"
    metrics: Metrics


def train(setup: Setup, steps: int, every: int | None = None) -> Iterator[ProgressEvent | DoneEvent]:
    """Trains for `steps` batches: a ProgressEvent every `every` steps (default: ten in all), then a DoneEvent that
    says whether the run ended stuck (measured against the metrics STUCK_WINDOW steps before the end)."""
    every = every or max(1, steps // 10)
    pg, start = Playground(setup), time.perf_counter()
    marks = [pg.metrics()]
    for ev in pg.steps():
        if ev.step >= steps:
            break
        if ev.step == steps - STUCK_WINDOW:
            marks.append(pg.metrics())
        if ev.step % every == 0:
            yield ProgressEvent(pg.metrics())
    final = pg.metrics()
    yield DoneEvent(final, time.perf_counter() - start, is_stuck([*marks, final]))


def bench(setup: Setup, repeats: int = 200, resolution: int = GRID) -> dict:
    """Time of one training step plus one grid pass (what the page does per redraw at one step per frame): wall
    clock, and this thread's CPU time, which on a shared machine leaves out the time other processes held the CPU."""
    pg = Playground(setup)
    for _ in range(10):  # warm-up
        pg.step()
        pg.grid(resolution)
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        pg.step()
        pg.grid(resolution)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    wall_ms, cpu_ms = np.array(wall) * 1000, np.array(cpu) * 1000
    return {"network": setup.describe(), "grid": f"{resolution}x{resolution}", "repeats": repeats,
            "median_ms": round(float(np.median(wall_ms)), 3), "p90_ms": round(float(np.percentile(wall_ms, 90)), 3),
            "min_ms": round(float(wall_ms.min()), 3), "cpu_median_ms": round(float(np.median(cpu_ms)), 3)}
