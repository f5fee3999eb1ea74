"""The MLP, built from a TrainConfig. Only torch imports, so it runs anywhere PyTorch does."""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig

ACTIVATION_LAYERS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Sequential):
    """784 -> hidden... -> 10. With batch norm off and dropout 0 the layers (and so the default init drawn from
    the seed) are exactly the notebook's nn.Sequential of Linear and activation layers."""

    def __init__(self, config: TrainConfig):
        layers: list[nn.Module] = []
        width = 784
        for h in config.hidden:
            # A bias before batch norm is cancelled by it; dropping it saves a kernel per layer.
            layers.append(nn.Linear(width, h, bias=not config.batch_norm))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATION_LAYERS[config.activation]())
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            width = h
        layers.append(nn.Linear(width, 10))
        super().__init__(*layers)
        self.config = config

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]


def parameter_count(config: TrainConfig) -> int:
    widths = (784, *config.hidden, 10)
    total = 0
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        last = i == len(widths) - 2
        total += a * b + (b if (last or not config.batch_norm) else 0)
        if config.batch_norm and not last:
            total += 2 * b
    return total


def summary(config: TrainConfig) -> list[dict]:
    """One row per layer, for the app's model summary."""
    rows = []
    widths = (784, *config.hidden, 10)
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        last = i == len(widths) - 2
        extras = []
        if not last:
            if config.batch_norm:
                extras.append("batch norm")
            extras.append(config.activation)
            if config.dropout:
                extras.append(f"dropout {config.dropout:g}")
        params = a * b + (b if (last or not config.batch_norm) else 2 * b)
        rows.append({"layer": "output" if last else f"hidden {i + 1}", "shape": f"{a} → {b}",
                     "then": ", ".join(extras) or "softmax (in the loss)", "parameters": params})
    return rows


def flops_per_sample(config: TrainConfig) -> int:
    """Multiply-adds x 2 for forward, x 3 for forward + backward: what a training step must compute."""
    widths = (784, *config.hidden, 10)
    return 6 * sum(a * b for a, b in zip(widths, widths[1:]))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("CUDA was asked for, but PyTorch sees no CUDA GPU here: choose cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("MPS was asked for, but this machine has no Apple GPU: choose cpu or auto")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


class DeviceError(ValueError):
    pass
