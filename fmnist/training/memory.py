"""The memory guard: a run's peak memory, estimated from its config before it starts, against what is free now.

The parts: the dataset on the device (and its uint8 original on the CPU), the weights, their gradients, the
optimizer's state (none for SGD, one buffer for momentum, two for Adam/AdamW), a kept best epoch, and the larger
of one training batch's activations (kept for the backward pass) and one evaluation chunk's. Checked against
tests/test_memory.py's measured peaks of real runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from fmnist import env
from fmnist.config import TRAIN_SIZE, TrainConfig
from fmnist.data.dataset import EVAL_CHUNK
from fmnist.messages import N_
from fmnist.model.architecture import blocks, parameter_count

F32 = 4
TEST_SIZE = 10_000
OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
HEADROOM = 0.9  # a run may plan on 90% of what is free: the rest is for the server, the pages, the allocator
# memory_problem's message by (on a CUDA GPU, under 2 GB free).
NEEDS = {
    (False, True): N_("this run needs about {need} of memory; about {free} is free: {advice}"),
    (False, False): N_("this run needs about {need} of memory; about {free} are free: {advice}"),
    (True, True): N_("this run needs about {need} of GPU memory; about {free} is free: {advice}"),
    (True, False): N_("this run needs about {need} of GPU memory; about {free} are free: {advice}"),
}


@dataclass
class Estimate:
    parts: dict[str, int]  # bytes by what holds them

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def estimate(config: TrainConfig, n_train: int = TRAIN_SIZE, n_test: int = TEST_SIZE,
             dataset: bool = True) -> Estimate:
    """Peak bytes of a run; `dataset=False` leaves out a dataset already in memory (the app's shared copy)."""
    params = parameter_count(config) * F32
    images = (n_train + n_test) * 784
    parts = {
        "dataset": images * (1 + F32) + (n_train + n_test) * 8 if dataset else 0,  # uint8 and float32, labels
        "weights": params,
        "gradients": params,
        "optimizer state": OPTIMIZER_BUFFERS[config.optimizer] * params,
        "best epoch": params if config.keep_best else 0,
        "validation and order": config.val_size * 784 * F32 + n_train * 8 * 2,  # the held-out copy, the shuffle
    }
    # Whichever of these is largest sets the peak; they never live at the same time: the normalisation's
    # temporary copy while the data loads, one batch's activations while a step runs, the optimizer's
    # temporaries during its update (activations freed by then), one evaluation chunk after an epoch.
    transient = {
        "normalising the data": n_train * 784 * F32 if dataset else 0,
        "activations": _train_activations(config),
        "optimizer update": OPTIMIZER_BUFFERS[config.optimizer] * params,
        "evaluation": _eval_activations(config, n_test),
    }
    peak = max(transient, key=transient.get)
    parts[peak] = transient[peak]
    return Estimate(parts)


def _conv_values(config: TrainConfig) -> list[tuple[int, int]]:
    """Per convolution block, per image: (values of its convolution's output, values after its pooling)."""
    return [(b.channels * b.side_in ** 2, b.channels * b.side ** 2) for b in blocks(config)]


def _train_activations(config: TrainConfig) -> int:
    """What one step keeps for backward: the gathered batch; per convolution block its convolution output, batch
    norm's and the activation's, the pooled maps (max pooling's int64 indices too) and dropout's output and mask; per
    hidden layer its linear output and activation (plus batch norm's output, dropout's output and mask); then,
    during backward, the gradients of the largest layer (two at once: the one coming in, the one going out)."""
    b, per_unit = config.batch_size, 2 * F32 + (F32 if config.batch_norm else 0) + (F32 + 1 if config.dropout else 0)
    total = b * 784 * F32 * (2 if config.augment else 1) + sum(b * w * per_unit for w in config.hidden)
    for full, pooled in _conv_values(config):
        total += b * full * (2 * F32 + (F32 if config.batch_norm else 0))
        if config.pool != "none":
            total += b * pooled * (F32 + (8 if config.pool == "max" else 0))
        total += b * pooled * (F32 + 1 if config.dropout else 0)
    if config.augment:  # the gather's padded image and its broadcast int64 indices
        total += b * 32 * 32 * F32 + b * 784 * 8 * 2
    widest = max((*config.hidden, *(full for full, _ in _conv_values(config)), 10))
    return total + 2 * b * widest * F32 + 3 * b * 10 * F32


def _eval_activations(config: TrainConfig, n_test: int) -> int:
    """No autograd in evaluation: one chunk's input and the two largest consecutive layer outputs at a time."""
    c = min(EVAL_CHUNK, max(n_test, config.val_size))
    sizes = (784, *(v for pair in _conv_values(config) for v in pair), *config.hidden, 10)
    return c * F32 * max(a + b for a, b in zip(sizes, sizes[1:])) * (2 if config.batch_norm else 1)


def available(device_type: str) -> int | None:
    """Bytes free on a device ("cpu", "cuda", ...) now, None when unknown: for CUDA the driver's free memory; for
    the CPU MemAvailable, or less where a cgroup (a container) caps this process or an address-space or data-segment
    limit (`ulimit -v`, `ulimit -d`) leaves it less; both capped by FMNIST_MAX_RUN_MB, a server's own bound on one
    run."""
    free = {"cuda": _cuda_free, "cpu": _cpu_free}.get(device_type, lambda: None)()
    cap = env.get("FMNIST_MAX_RUN_MB")
    if cap:
        try:
            free = min(free if free is not None else math.inf, float(cap) * 1e6)
        except ValueError:
            pass  # a typo must not block every run; the README documents the number
    return None if free is None else int(free)


def _cuda_free() -> int:
    import torch

    return torch.cuda.mem_get_info()[0]


def _cpu_free() -> int | None:
    free = None
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free if free is not None else math.inf, int(limit) - used)
    except (OSError, ValueError):
        pass
    limited = _rlimit_free()
    return free if limited is None else min(free if free is not None else math.inf, limited)


def _rlimit_free() -> int | None:
    """What RLIMIT_AS and RLIMIT_DATA leave this process: each soft limit minus what it maps already (VmSize,
    VmData in /proc/self/status: torch's libraries alone map a few GB of address space). None when neither is set."""
    try:
        import resource

        with open("/proc/self/status") as f:
            mapped = {k: int(v.split()[0]) * 1024 for k, _, v in (line.partition(":") for line in f)
                      if k in ("VmSize", "VmData")}
    except (ImportError, OSError, ValueError):
        return None
    left = [resource.getrlimit(limit)[0] - mapped.get(field, 0)
            for limit, field in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData"))
            if resource.getrlimit(limit)[0] != resource.RLIM_INFINITY]
    return max(0, min(left)) if left else None


def gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def memory_problem(config: TrainConfig, dataset_loaded: bool = True, free: int | None = None,
                   device_type: str | None = None) -> str | None:
    """Why this run will not fit in the memory free now (with the estimate and what to change), or None.
    `dataset_loaded`: the dataset is already in memory (the app's workers map one shared copy). `device_type`: where
    the run trains ("cpu", "cuda", ...); found with torch when not given (the app's server gives it: it imports no
    torch)."""
    if device_type is None:
        from fmnist.model.devices import DeviceError, resolve_device

        try:
            device_type = resolve_device(config.device).type
        except DeviceError:
            return None  # the device control reports that
    free = available(device_type) if free is None else free
    est = estimate(config, dataset=not dataset_loaded or device_type != "cpu")
    if free is None or est.total <= HEADROOM * free:
        return None
    return NEEDS[device_type == "cuda", free < 2e9].format(need=gb(est.total), free=gb(free),
                                                           advice=advice(config, est))


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocation that failed on the CPU: Python's MemoryError, or torch's allocator ("DefaultCPUAllocator: can't
    allocate memory"), as when another process took the memory after the guard let the run start."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


def out_of_memory(config: TrainConfig, epoch: int) -> str:
    """The reason a run that ran out of memory at `epoch` gives, never the allocator's text: what was kept for
    resuming, the estimate and what to change (after the last ": ", as in memory_problem's message)."""
    est = estimate(config)
    kept = N_("epoch {epoch} is kept for resuming").format(epoch=epoch - 1) if epoch > 1 else \
        N_("no epoch had completed")
    return N_("out of memory at epoch {epoch} ({kept}); this run needs about {need} of memory: {advice}").format(
        epoch=epoch, kept=kept, need=gb(est.total), advice=advice(config, est))


def advice(config: TrainConfig, est: Estimate) -> str:
    """What to change, the part that weighs most first."""
    weights = sum(est.parts.get(k, 0) for k in ("weights", "gradients", "optimizer state", "optimizer update"))
    if weights <= est.parts.get("activations", 0):
        return N_("use a smaller batch, or narrower or fewer layers")
    if config.optimizer == "sgd":
        return N_("use narrower or fewer layers, or a smaller batch")
    return N_("use narrower or fewer layers, or a smaller batch, or plain SGD (no optimizer state)")
