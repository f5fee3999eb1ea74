"""The network a TrainConfig describes, built in torch: convolution blocks (none for the tutorial's MLP), then the
dense layers. Only torch imports, so it runs anywhere PyTorch does."""

from __future__ import annotations

import torch
from torch import nn

from fmnist.config import TrainConfig
from fmnist.model.architecture import SIDE, blocks, layers

ACTIVATION_LAYERS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
}


class Dropout(nn.Dropout):
    """nn.Dropout with the mask drawn by rand_like and a comparison: the same distribution (each unit kept with
    probability 1 - p, kept units scaled by 1 / (1 - p)) at about a quarter of the bernoulli_ kernel's cost on the
    CPU (1.9 against 7.3 ms a 256 x 2048 mask in the trainer's profile). MLP builds it only for 0 < p < 1, the
    range TrainConfig accepts."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return x * (torch.rand_like(x) >= self.p) * (1.0 / (1.0 - self.p))


POOL_LAYERS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def conv_modules(config: TrainConfig) -> list[nn.Module]:
    """The convolution blocks of fmnist.model.architecture.blocks, from the flat 784 pixels the data holds to the
    features the first dense layer takes."""
    convs = blocks(config)
    if not convs:
        return []
    modules: list[nn.Module] = [nn.Unflatten(1, (1, SIDE, SIDE))]
    for b in convs:
        modules.append(nn.Conv2d(b.channels_in, b.channels, b.kernel, padding=b.kernel // 2, bias=b.bias))
        if b.batch_norm:
            modules.append(nn.BatchNorm2d(b.channels))
        modules.append(ACTIVATION_LAYERS[b.activation]())
        if b.pool != "none":
            modules.append(POOL_LAYERS[b.pool](2))
        if b.dropout:
            modules.append(Dropout(b.dropout))
    if config.head == "gap":
        modules.append(nn.AdaptiveAvgPool2d(1))
    modules.append(nn.Flatten())
    return modules


class MLP(nn.Sequential):
    """Convolution blocks (conv_modules), then the dense layers 784 (or the blocks' features) -> hidden... -> 10,
    built from fmnist.model.architecture. Without convolution blocks, with batch norm off and dropout 0, the layers
    (and so the default init drawn from the seed) are exactly the notebook's nn.Sequential of Linear and activation
    layers."""

    def __init__(self, config: TrainConfig):
        modules: list[nn.Module] = conv_modules(config)
        for layer in layers(config):
            modules.append(nn.Linear(layer.inputs, layer.outputs, bias=layer.bias))
            if layer.batch_norm:
                modules.append(nn.BatchNorm1d(layer.outputs))
            if layer.activation:
                modules.append(ACTIVATION_LAYERS[layer.activation]())
            if layer.dropout:
                modules.append(Dropout(layer.dropout))
        super().__init__(*modules)
        self.config = config

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]

    @property
    def convolutions(self) -> list[nn.Conv2d]:
        return [m for m in self if isinstance(m, nn.Conv2d)]
