"""The exported script's network, written out as fmnist.model.mlp builds it (the same modules in the same order, so
the checkpoint's state_dict loads into it and the same seed draws the same initial weights)."""

from __future__ import annotations

from string import Template

from fmnist.config import TrainConfig, layers_text
from fmnist.model.architecture import blocks, features
from fmnist.model.mlp import ACTIVATION_LAYERS

_MODEL = '''

class $model_class(nn.Module):
    """$layers, the layers in fmnist's order, so that the same seed draws the same initial weights."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
$layer_lines
        )

    def forward(self, x):
        return self.layers(x.view(-1, 28 * 28))  # logits: the softmax is inside the loss
'''


def model_source(config: TrainConfig) -> str:
    activation = ACTIVATION_LAYERS[config.activation].__name__
    lines = _conv_lines(config, activation)
    width = features(config)
    for h in config.hidden:
        if config.batch_norm:
            lines.append(f"nn.Linear({width}, {h}, bias=False),  # no bias: the batch norm after it would cancel it")
            lines.append(f"nn.BatchNorm1d({h}),")
        else:
            lines.append(f"nn.Linear({width}, {h}),")
        lines.append(f"nn.{activation}(),")
        if config.dropout:
            lines.append(f"nn.Dropout({config.dropout!r}),")
        width = h
    lines.append(f"nn.Linear({width}, 10),")
    return Template(_MODEL).substitute(model_class=model_name(config), layers=layers_text(config),
                                       layer_lines="\n".join(" " * 12 + line for line in lines))


def model_name(config: TrainConfig) -> str:
    return "CNN" if config.conv else "MLP"


def _conv_lines(config: TrainConfig, activation: str) -> list[str]:
    """The convolution blocks, as fmnist.model.mlp.conv_modules builds them."""
    if not config.conv:
        return []
    lines = ["nn.Unflatten(1, (1, 28, 28)),  # the 784 pixels back into one 28 x 28 channel"]
    for b in blocks(config):
        bias = ", bias=False" if config.batch_norm else ""
        lines.append(f"nn.Conv2d({b.channels_in}, {b.channels}, {b.kernel}, padding={b.kernel // 2}{bias}),")
        if config.batch_norm:
            lines.append(f"nn.BatchNorm2d({b.channels}),")
        lines.append(f"nn.{activation}(),")
        if config.pool != "none":
            lines.append(f"nn.{'MaxPool2d' if config.pool == 'max' else 'AvgPool2d'}(2),")
        if config.dropout:
            lines.append(f"nn.Dropout({config.dropout!r}),")
    if config.head == "gap":
        lines.append("nn.AdaptiveAvgPool2d(1),  # one number per channel: the mean of its map")
    lines.append("nn.Flatten(),")
    return lines
