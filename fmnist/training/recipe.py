"""The recipe's parts, each a plain function of the config: the learning-rate schedule, the optimizer and its parameter
groups, the augmentations (shifts, mirrors, warps) done on the device, the validation split, bf16 autocast and the
weight average."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from fmnist.config import TrainConfig
from fmnist.data.dataset import BLACK
from fmnist.messages import N_


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


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
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


def autocast(config: TrainConfig, device: torch.device):
    """bf16 autocast for the forward pass and loss when asked for (matmuls in bf16, reductions in fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")


def bf16_problem(device: torch.device) -> str | None:
    """Why bf16 cannot be used on this device, or None when it can."""
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else N_("this GPU has no bf16 support: use --precision fp32")
    if device.type == "cpu":
        return None if torch.ops.mkldnn._is_mkldnn_bf16_supported() else \
            N_("this CPU has no bf16 instructions (AVX512-BF16 or AMX): use --precision fp32")
    return N_("bf16 is offered on CPUs and CUDA GPUs, not on {device}: use --precision fp32").format(device=device.type)


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
