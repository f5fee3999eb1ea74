"""The layers a TrainConfig describes, worked out once in plain Python: fmnist.model.mlp builds the MLP from them, and
the app's Train page shows the summary and parameter count from them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

from fmnist.config import TrainConfig

INPUTS, CLASSES = 784, 10


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


def layers(config: TrainConfig) -> list[Layer]:
    widths = (INPUTS, *config.hidden)
    out = [Layer(f"hidden {i + 1}", a, b, not config.batch_norm, config.batch_norm, config.activation, config.dropout)
           for i, (a, b) in enumerate(zip(widths, widths[1:]))]
    out.append(Layer("output", widths[-1], CLASSES, True, False, None, 0.0))
    return out


def parameter_count(config: TrainConfig) -> int:
    return sum(layer.parameters for layer in layers(config))


def summary(config: TrainConfig) -> list[dict]:
    """One row per layer, for the app's model summary."""
    rows = []
    for layer in layers(config):
        extras = ["batch norm"] * layer.batch_norm + [layer.activation] * bool(layer.activation)
        if layer.dropout:
            extras.append(f"dropout {layer.dropout:g}")
        rows.append({"layer": layer.name, "shape": f"{layer.inputs} → {layer.outputs}",
                     "then": ", ".join(extras) or "softmax (in the loss)", "parameters": layer.parameters})
    return rows


def flops_per_sample(config: TrainConfig) -> int:
    """Multiply-adds x 2 for forward, x 3 for forward + backward: what a training step must compute."""
    return 6 * sum(layer.inputs * layer.outputs for layer in layers(config))
