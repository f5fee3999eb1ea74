"""How much of its accuracy a model keeps when the test images move: shifted by whole pixels, or rotated.

A shift of k pixels moves every test image by (dx, dy) for each of the 8 directions with dx, dy in {-k, 0, k}, not both
0 (x to the right, y down), and fills the uncovered border with the background; its accuracy is the mean over the 8
directions. A rotation of r degrees turns every image about its centre by +r (counter-clockwise as seen) and by -r,
sampled bilinearly with the background outside the frame; its accuracy is the mean of the two. Shift 0 and rotation 0
are the plain test accuracy, computed as fmnist.inspect.evaluate computes it.

Every transform is one tensor operation on the whole (normalised) test set, on the model's device: a shift is a
slice copy, a rotation one grid_sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from fmnist.data.dataset import BLACK
from fmnist.inspect.evaluate import predict_logits
from fmnist.inspect.robustness_amounts import ROTATIONS, SHIFTS
from fmnist.messages import N_

SIDE = 28
MAX_SHIFT = SIDE - 1  # a shift of 28 leaves nothing of the image
MAX_ROTATION = 180


def _as_maps(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(N, 784) or (..., 28, 28) as (M, 28, 28), with the shape to give back."""
    if x.shape[-1] == SIDE * SIDE:
        return x.reshape(-1, SIDE, SIDE), tuple(x.shape)
    if tuple(x.shape[-2:]) == (SIDE, SIDE):
        return x.reshape(-1, SIDE, SIDE), tuple(x.shape)
    raise ValueError(f"expected images of shape (N, 784) or (..., 28, 28), got {tuple(x.shape)}")


def shift_images(x: torch.Tensor, dx: int, dy: int, fill: float = BLACK) -> torch.Tensor:
    """The images moved dx pixels right and dy pixels down (negative: left, up): the pixel at (row, col) goes to
    (row + dy, col + dx), what leaves the frame is dropped and the uncovered border is `fill` (the background: BLACK
    for normalised images as the dataset holds them, 0 for uint8 ones). Same shape and dtype as `x`."""
    maps, shape = _as_maps(x)
    out = torch.full_like(maps, fill)
    if abs(dx) < SIDE and abs(dy) < SIDE:
        out[:, max(dy, 0):SIDE + min(dy, 0), max(dx, 0):SIDE + min(dx, 0)] = \
            maps[:, max(-dy, 0):SIDE - max(dy, 0), max(-dx, 0):SIDE - max(dx, 0)]
    return out.reshape(shape)


def rotate_images(x: torch.Tensor, degrees: float, fill: float = BLACK) -> torch.Tensor:
    """The images turned `degrees` counter-clockwise (as seen, rows running down) about the centre of the frame,
    sampled bilinearly; points that come from outside the frame take `fill` (the background). Float images only."""
    maps, shape = _as_maps(x)
    if degrees % 360 == 0:
        return x.clone()
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    # affine_grid maps each output point (u, v) to the input point it reads: the inverse of the turn. With rows
    # running down, turning the picture counter-clockwise by a reads (cos a * u - sin a * v, sin a * u + cos a * v).
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=maps.dtype, device=maps.device)
    grid = F.affine_grid(theta.expand(maps.shape[0], 2, 3), [maps.shape[0], 1, SIDE, SIDE], align_corners=False)
    # grid_sample pads with zeros; sampling the images less the fill and adding it back pads with the fill instead.
    turned = F.grid_sample((maps - fill).unsqueeze(1), grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    return (turned.squeeze(1) + fill).reshape(shape)


def directions(k: int) -> list[tuple[int, int]]:
    """The (dx, dy) moves that make a shift of k: the 8 neighbours' directions, or no move for k = 0."""
    if k == 0:
        return [(0, 0)]
    return [(dx, dy) for dy in (-k, 0, k) for dx in (-k, 0, k) if (dx, dy) != (0, 0)]


def angles(r: float) -> list[float]:
    return [0.0] if r == 0 else [float(r), -float(r)]


@dataclass
class Measure:
    """One shift or rotation of the test set: its mean accuracy (percent) and the accuracy of each move it is made
    of ((dx, dy) for a shift, signed degrees for a rotation)."""

    kind: str  # "shift" or "rotation"
    amount: float
    accuracy: float
    parts: list[tuple] = field(default_factory=list)  # (move, accuracy)

    def as_dict(self) -> dict:
        if self.kind == "shift":
            parts = [{"dx": dx, "dy": dy, "accuracy": acc} for (dx, dy), acc in self.parts]
            return {"shift": int(self.amount), "accuracy": self.accuracy, "directions": parts}
        parts = [{"degrees": int(deg) if float(deg).is_integer() else deg, "accuracy": acc} for deg, acc in self.parts]
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return {"rotation": amount, "accuracy": self.accuracy, "angles": parts}


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Percent right, as fmnist.inspect.evaluate counts it (the same logits, the same argmax)."""
    logits = predict_logits(model, x)
    return 100.0 * float((logits.argmax(1) == y.to(logits.device)).sum().item()) / max(int(y.shape[0]), 1)


def check_amounts(shifts: Iterable[int], rotations: Iterable[float]) -> None:
    """ValueError with a one-line message for a shift or rotation the test does not define."""
    for k in shifts:
        if int(k) != k or not 0 <= k <= MAX_SHIFT:
            raise ValueError(N_("a shift must be a whole number of pixels from 0 to {max} (got {got})").format(
                max=MAX_SHIFT, got=k))
    for r in rotations:
        if not (math.isfinite(r) and 0 <= r <= MAX_ROTATION):
            raise ValueError(N_("a rotation must be from 0 to {max} degrees (got {got})").format(
                max=MAX_ROTATION, got=f"{r:g}"))


def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shifts: Iterable[int] = SHIFTS,
            rotations: Iterable[float] = ROTATIONS,
            progress: Callable[[Measure, int, int], None] | None = None) -> list[Measure]:
    """The model's accuracy on the normalised test images `x` (N, 784) and labels `y` under each shift, then each
    rotation; `progress(measure, done, total)` after each. Shift 0 and rotation 0 are measured once and reported
    under both."""
    shifts, rotations = [int(k) for k in shifts], [float(r) for r in rotations]
    check_amounts(shifts, rotations)
    plan = [("shift", k, directions(k)) for k in shifts] + [("rotation", r, angles(r)) for r in rotations]
    total, done, plain = len(plan), 0, None
    out = []
    for kind, amount, moves in plan:
        parts = []
        for move in moves:
            if move in ((0, 0), 0.0):
                plain = _accuracy(model, x, y) if plain is None else plain
                parts.append((move, plain))
                continue
            moved = shift_images(x, *move) if kind == "shift" else rotate_images(x, move)
            parts.append((move, _accuracy(model, moved, y)))
        out.append(Measure(kind, amount, sum(acc for _, acc in parts) / len(parts), parts))
        done += 1
        if progress is not None:
            progress(out[-1], done, total)
    return out
