"""The layers a TrainConfig describes, worked out once in plain Python: fmnist.model.mlp builds the network from
them, and the app's Train page shows the summary, parameter count and multiply-adds from them without importing
torch."""

from __future__ import annotations

from dataclasses import dataclass

from fmnist.config import TrainConfig
from fmnist.config.run import map_size

INPUTS, CLASSES, SIDE = 784, 10, 28


@dataclass(frozen=True)
class Block:
    """One convolution block: a k x k convolution with "same" padding, then batch norm, the activation, 2 x 2 pooling
    and dropout as the config has them. Its bias is dropped when batch norm cancels it."""

    name: str
    channels_in: int
    channels: int
    kernel: int
    side_in: int  # the maps' width and height going in
    side: int  # and coming out, after the pooling
    bias: bool
    batch_norm: bool
    activation: str
    pool: str  # "max", "avg" or "none"
    dropout: float

    @property
    def parameters(self) -> int:
        return (self.channels_in * self.kernel ** 2 * self.channels + (self.channels if self.bias else 0)
                + (2 * self.channels if self.batch_norm else 0))

    @property
    def multiply_adds(self) -> int:
        """Per image: every output value of the convolution is a k x k x channels_in dot product; the weights are
        shared by every place of the map, which is why a block has so few parameters for so much work."""
        return self.side_in ** 2 * self.channels * self.channels_in * self.kernel ** 2


@dataclass(frozen=True)
class Layer:
    """One linear layer and what follows it; a hidden layer's bias is dropped when batch norm cancels it."""

    name: str
    inputs: int
    outputs: int
    bias: bool
    batch_norm: bool
    activation: str | None  # None for the output layer, whose softmax lives in the loss
    dropout: float

    @property
    def parameters(self) -> int:
        return self.inputs * self.outputs + (self.outputs if self.bias else 0) + (2 * self.outputs if self.batch_norm
                                                                                     else 0)

    @property
    def multiply_adds(self) -> int:
        return self.inputs * self.outputs


def blocks(config: TrainConfig) -> list[Block]:
    out, channels_in, side = [], 1, SIDE
    for i, c in enumerate(config.conv):
        after = map_size(1, config.pool, side)
        out.append(Block(f"conv {i + 1}", channels_in, c, config.kernel, side, after, not config.batch_norm,
                         config.batch_norm, config.activation, config.pool, config.dropout))
        channels_in, side = c, after
    return out


def features(config: TrainConfig) -> int:
    """How many numbers reach the first dense layer: the pixels, the flattened last maps, or one per channel (gap)."""
    convs = blocks(config)
    if not convs:
        return INPUTS
    last = convs[-1]
    return last.channels if config.head == "gap" else last.channels * last.side ** 2


def layers(config: TrainConfig) -> list[Layer]:
    widths = (features(config), *config.hidden)
    out = [Layer(f"hidden {i + 1}", a, b, not config.batch_norm, config.batch_norm, config.activation, config.dropout)
           for i, (a, b) in enumerate(zip(widths, widths[1:]))]
    out.append(Layer("output", widths[-1], CLASSES, True, False, None, 0.0))
    return out


def parameter_count(config: TrainConfig) -> int:
    return sum(b.parameters for b in blocks(config)) + sum(layer.parameters for layer in layers(config))


def multiply_adds(config: TrainConfig) -> int:
    """Multiply-adds of one image's forward pass."""
    return sum(b.multiply_adds for b in blocks(config)) + sum(layer.multiply_adds for layer in layers(config))


def _then(*parts) -> str:
    return ", ".join(p for p in parts if p)


def summary(config: TrainConfig) -> list[dict]:
    """One row per block and layer, for the app's model summary: shapes as they flow (1x28x28 -> 32x28x28 ->
    32x14x14 -> ...), parameters and multiply-adds."""
    rows = []
    for b in blocks(config):
        pool = "" if b.pool == "none" else f"{b.pool} pool 2 → {b.channels}x{b.side}x{b.side}"
        rows.append({"layer": b.name, "shape": f"{b.channels_in}x{b.side_in}x{b.side_in} → {b.channels}x{b.side_in}"
                                               f"x{b.side_in}",
                     "then": _then("batch norm" if b.batch_norm else "", b.activation, pool,
                                   f"dropout {b.dropout:g}" if b.dropout else ""),
                     "parameters": b.parameters, "multiply-adds": b.multiply_adds})
    convs = blocks(config)
    if convs:
        last = convs[-1]
        rows.append({"layer": "head", "shape": f"{last.channels}x{last.side}x{last.side} → {features(config)}",
                     "then": "global average pool" if config.head == "gap" else "flatten",
                     "parameters": 0, "multiply-adds": 0})
    for layer in layers(config):
        rows.append({"layer": layer.name, "shape": f"{layer.inputs} → {layer.outputs}",
                     "then": _then("batch norm" if layer.batch_norm else "", layer.activation or "",
                                   f"dropout {layer.dropout:g}" if layer.dropout else "") or "softmax (in the loss)",
                     "parameters": layer.parameters, "multiply-adds": layer.multiply_adds})
    return rows


def flops_per_sample(config: TrainConfig) -> int:
    """Multiply-adds x 2 for forward, x 3 for forward + backward: what a training step must compute."""
    return 6 * multiply_adds(config)
