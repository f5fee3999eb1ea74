"""Looking inside a model: first-layer filters, saliency maps and a 2-D projection of the learned space."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fmnist.data.dataset import BLACK


def starts_with_pixels(model: nn.Module) -> bool:
    """Whether the first layer with weights is a Linear on the 784 pixels (an MLP), not a convolution."""
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    return isinstance(first, nn.Linear) and first.in_features == 784


def first_layer_filters(model: nn.Module, k: int = 36) -> tuple[np.ndarray, np.ndarray]:
    """The incoming weights of the k first-layer units with the largest weight norm, as (k, 28, 28) images,
    and those units' indices. A unit's 784 weights are the pattern it responds to. An MLP's only: see
    starts_with_pixels."""
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    w = first.weight.detach().float().cpu()
    order = torch.argsort(w.norm(dim=1), descending=True)[:k]
    return order.numpy(), w[order].reshape(-1, 28, 28).numpy()


def saliency(model: nn.Module, x: torch.Tensor, target: int | None = None, steps: int = 32) -> np.ndarray:
    """Integrated gradients (baseline: a black image) for one normalised input (784,): how much each pixel
    pushed the score of `target` (default: the predicted class) up or down. Signed, (28, 28)."""
    model.eval()
    device = next(model.parameters()).device
    x = x.reshape(1, 784).to(device)
    baseline = torch.full_like(x, BLACK)
    if target is None:
        with torch.no_grad():
            target = int(model(x).argmax(1))
    alphas = torch.linspace(1 / steps, 1, steps, device=device).reshape(-1, 1)
    path = (baseline + alphas * (x - baseline)).requires_grad_(True)
    score = model(path)[:, target].sum()
    (grads,) = torch.autograd.grad(score, path)
    attribution = (x - baseline) * grads.mean(0, keepdim=True)
    return attribution.reshape(28, 28).detach().cpu().numpy()


@torch.no_grad()
def hidden_features(model: nn.Sequential, x: torch.Tensor, chunk: int = 10_000) -> torch.Tensor:
    """Activations that feed the output layer (the last hidden layer, after its activation)."""
    model.eval()
    body = nn.Sequential(*list(model)[:-1])  # slicing would rebuild the MLP subclass from a dict
    device = next(model.parameters()).device
    return torch.cat([body(x[i:i + chunk].to(device)).float().cpu() for i in range(0, x.shape[0], chunk)])


def pca_2d(features: torch.Tensor, previous: np.ndarray | None = None) -> np.ndarray:
    """The first two principal components. Each component's sign is arbitrary, so it is chosen to agree
    with the previous frame: replaying epochs then shows movement, not mirror flips."""
    centred = features - features.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    coords = (centred @ v[:2].T).numpy()
    if previous is not None and previous.shape == coords.shape:
        for j in range(2):
            if float(np.dot(coords[:, j], previous[:, j])) < 0:
                coords[:, j] = -coords[:, j]
    return coords.astype(np.float32)
