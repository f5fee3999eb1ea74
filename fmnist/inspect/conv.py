"""Looking inside a network's convolution blocks: their kernels, the maps each block makes of an image, each channel's
health on the probe images, and what the channel inspector shows (mean activation per class, the test images that
excite a channel most and the region of the image it looks at there).

A block is the run of modules fmnist.model.mlp.conv_modules builds from one Conv2d: the convolution, batch norm,
the activation, pooling and dropout. Pure torch and numpy: the worker computes it with the epoch's other insight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

TOP_IMAGES = 9  # images the inspector shows per channel
CHUNK = 250  # probe images per forward pass: block 1 of cnn-best holds 48 x 28 x 28 floats an image
ACTIVATIONS = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU)
SATURATING = (nn.Tanh, nn.Sigmoid)


@dataclass(frozen=True)
class Span:
    """Where one block sits in the Sequential: its Conv2d, its activation, and the index after its last module."""

    conv: int
    activation: int
    end: int


def spans(model: nn.Sequential) -> list[Span]:
    """Each convolution block of the model, first to last (none for an MLP). A block ends at the next Conv2d or at
    the head (global average pooling or the flatten into the dense layers)."""
    mods = list(model)
    starts = [i for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]
    out = []
    for n, s in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else next(
            i for i in range(s, len(mods)) if isinstance(mods[i], (nn.AdaptiveAvgPool2d, nn.Flatten)))
        act = next(i for i in range(s, end) if isinstance(mods[i], ACTIVATIONS))
        out.append(Span(s, act, end))
    return out


def kernel_images(model: nn.Sequential) -> list[np.ndarray]:
    """Per block, one k x k image per output channel, (channels, k, k). The first block sees one grey channel, so
    these are its kernels as they are. A deeper block's channel has one kernel per input channel: it is shown as their
    mean over the input channels, which keeps the kernel's layout and sign (an edge stays an edge) where a norm would
    make every kernel positive."""
    out = []
    for s in spans(model):
        w = model[s.conv].weight.detach().float().cpu()
        out.append((w[:, 0] if w.shape[1] == 1 else w.mean(1)).numpy())
    return out


def _blocks_forward(model: nn.Sequential, x: torch.Tensor, upto: int):
    """Yields, block by block, (span, input to its activation, activation output, block output) for x (n, 784), in
    eval mode. `upto` blocks at most."""
    h = x
    start = 0
    for s in spans(model)[:upto]:
        for m in list(model)[start:s.activation]:
            h = m(h)
        pre = h
        act = model[s.activation](pre)
        h = act
        for m in list(model)[s.activation + 1:s.end]:
            h = m(h)
        start = s.end
        yield s, pre, act, h


class _Eval:
    """Eval mode (no dropout, batch norm's running statistics) for a while, then the mode it was in."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was)


@torch.no_grad()
def feature_maps(model: nn.Sequential, x: torch.Tensor) -> list[np.ndarray]:
    """Every block's output (after its pooling: what the next block sees) for the images x (n, 784):
    (n, channels, side, side) per block, float16 to halve what each epoch sends."""
    device = next(model.parameters()).device
    with _Eval(model):
        return [out.float().cpu().numpy().astype(np.float16)
                for _s, _pre, _act, out in _blocks_forward(model, x.to(device), len(spans(model)))]


@dataclass(frozen=True)
class Field:
    """The receptive field of one block's activation maps on the 28 x 28 image: the map's position (0, 0) sees
    `size` x `size` pixels starting at pixel `start` (negative where the padding reaches outside), and one step along
    the map moves that window by `jump` pixels."""

    size: int
    jump: int
    start: int

    def box(self, row: int, col: int, side: int = 28) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) pixels, inclusive, that the map position (row, col) sees, within the image."""
        top, left = self.start + row * self.jump, self.start + col * self.jump
        return (max(top, 0), max(left, 0), min(top + self.size - 1, side - 1), min(left + self.size - 1, side - 1))


def fields(model: nn.Sequential) -> list[Field]:
    """Each block's receptive field at its activation (before its own pooling), from the kernel sizes, paddings and
    pooling strides before it: a k x k convolution widens the field by (k - 1) steps of the current jump and its
    padding moves the start back by padding steps; a pooling of window p and stride t widens it by p - 1 steps and
    multiplies the jump by t."""
    size, jump, start = 1, 1, 0
    out = []
    mods = list(model)
    for s in spans(model):
        conv = mods[s.conv]
        k, pad = conv.kernel_size[0], conv.padding[0]
        size, start = size + (k - 1) * jump, start - pad * jump
        out.append(Field(size, jump, start))
        for m in mods[s.activation + 1:s.end]:
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                p = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
                t = m.stride if isinstance(m.stride, int) else m.stride[0]
                size, jump = size + (p - 1) * jump, jump * t
    return out


@torch.no_grad()
def conv_insight(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, chunk: int = CHUNK) -> list[dict]:
    """Per block, measured on the probe images x (n, 784) with labels y, a chunk at a time:
    name, shape (channels, side, side) of its output, kernels (channels, k, k, as kernel_images), and per channel:
    dead (the input to its activation is never positive anywhere on any probe image; never for tanh and sigmoid,
    whose output is never 0 for good), saturated (share of map values at tanh's or sigmoid's limits), mean and std
    of its activation over every image and position, class_mean (channels, 10) of its mean activation per image,
    top (channels, 9) the probe images where its strongest activation is highest, and box (channels, 9, 4) the
    region (top, left, bottom, right) of each such image that the strongest position looks at."""
    device = next(model.parameters()).device
    blocks = spans(model)
    rf = fields(model)
    saturating = [type(model[s.activation]).__name__.lower() if isinstance(model[s.activation], SATURATING) else None
                  for s in blocks]
    stats: list[dict] = [{} for _ in blocks]
    y = y.cpu()
    with _Eval(model):
        for i in range(0, x.shape[0], chunk):
            xb, yb = x[i:i + chunk].to(device), y[i:i + chunk]
            for b, (_s, pre, act, out) in enumerate(_blocks_forward(model, xb, len(blocks))):
                _accumulate(stats[b], pre.float().cpu(), act.float().cpu(), yb, i, saturating[b], out.shape[1:])
    kernels = kernel_images(model)
    return [_block_result(b, st, kernels[b], rf[b]) for b, st in enumerate(stats)]


def _accumulate(st: dict, pre: torch.Tensor, act: torch.Tensor, y: torch.Tensor, offset: int, saturating: str | None,
                shape) -> None:
    """Adds one chunk's figures to a block's running sums and its running top images."""
    n, c, h, w = act.shape
    flat = act.reshape(n, c, h * w)
    per_image = flat.mean(2)  # (n, channels)
    peak, where = flat.max(2)
    if not st:
        st.update(shape=tuple(int(v) for v in shape), side=(h, w), most=torch.full((c,), -torch.inf), count=0,
                  sum=torch.zeros(c, dtype=torch.float64), sq=torch.zeros(c, dtype=torch.float64),
                  sat=torch.zeros(c, dtype=torch.float64), class_sum=torch.zeros(c, 10, dtype=torch.float64),
                  class_n=torch.zeros(10, dtype=torch.float64), top_v=torch.empty(0, c),
                  top_i=torch.empty(0, c, dtype=torch.long), top_p=torch.empty(0, c, dtype=torch.long))
    st["most"] = torch.maximum(st["most"], pre.amax((0, 2, 3)))
    st["count"] += n * h * w
    st["sum"] += act.double().sum((0, 2, 3))
    st["sq"] += (act.double() ** 2).sum((0, 2, 3))
    if saturating:
        stuck = act.abs() > 0.97 if saturating == "tanh" else (act < 0.03) | (act > 0.97)
        st["sat"] += stuck.double().sum((0, 2, 3))
    st["saturating"] = saturating is not None
    onehot = torch.nn.functional.one_hot(y.long(), 10).double()  # (n, 10)
    st["class_sum"] += per_image.double().T @ onehot
    st["class_n"] += onehot.sum(0)
    values = torch.cat([st["top_v"], peak])
    order = torch.argsort(values, dim=0, descending=True, stable=True)[:TOP_IMAGES]
    index = torch.cat([st["top_i"], torch.arange(offset, offset + n)[:, None].expand(n, c)])
    place = torch.cat([st["top_p"], where])
    st["top_v"], st["top_i"], st["top_p"] = (values.gather(0, order), index.gather(0, order), place.gather(0, order))


def _block_result(b: int, st: dict, kernels: np.ndarray, rf: Field) -> dict:
    mean = st["sum"] / st["count"]
    std = (st["sq"] / st["count"] - mean ** 2).clamp_min(0).sqrt()
    overall = float(st["sum"].sum() / (st["count"] * len(mean)))
    spread = float(st["sq"].sum() / (st["count"] * len(mean))) - overall ** 2
    side_w = st["side"][1]
    top_i, top_p = st["top_i"].T.numpy(), st["top_p"].T.numpy()  # (channels, 9)
    boxes = np.array([[rf.box(int(p) // side_w, int(p) % side_w) for p in row] for row in top_p], dtype=np.int16)
    class_mean = (st["class_sum"] / st["class_n"].clamp_min(1)).float().numpy()
    dead = np.zeros(len(mean), dtype=bool) if st["saturating"] else (st["most"] <= 0).numpy()
    return {"name": f"conv {b + 1}", "shape": st["shape"], "kernels": kernels, "dead": dead,
            "saturated": (st["sat"] / st["count"]).float().numpy(), "mean": mean.float().numpy(),
            "std": std.float().numpy(), "class_mean": class_mean, "top": top_i, "box": boxes,
            "field": (rf.size, rf.jump, rf.start), "act_mean": overall, "act_std": max(spread, 0.0) ** 0.5}


def health_rows(blocks: list[dict]) -> list[dict]:
    """Each block's line of the epoch's health (fmnist.inspect.health.HEALTH_KEYS but the gradient figures, which
    the tracker adds): the share of dead and of mostly saturated channels, the activation's mean and spread, and the
    block's channel count, so a warning can say "3 of 64 channels"."""
    return [{"name": b["name"], "dead": float(b["dead"].mean()), "saturated": float((b["saturated"] >= 0.95).mean()),
             "act_mean": b["act_mean"], "act_std": b["act_std"], "channels": len(b["dead"])} for b in blocks]


def class_examples(y: torch.Tensor) -> list[int]:
    """The index of the first image of each class in y: the images whose feature maps a run records."""
    y = y.cpu()
    return [int(torch.nonzero(y == c)[0]) for c in range(10) if bool((y == c).any())]


def views(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> dict:
    """What the Filters and Feature maps tabs show of a model now: every block's kernel images, and every block's
    maps of one test image per class (`images`, their indices in x)."""
    images = class_examples(y)
    return {"kernels": kernel_images(model), "images": images, "maps": feature_maps(model, x[images])}
