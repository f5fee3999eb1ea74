"""A convolution block's health warnings (#36) speak of the block and its channels, not of a layer and its units:
a tiny CNN whose block 2 has three channels pushed below zero by their batch norm's bias, measured on real test
images by the run's own HealthTracker, in English and in Korean."""

from __future__ import annotations

import re

import pytest
import torch

from fmnist.config import SEED
from fmnist.data.dataset import normalize
from fmnist.inspect.health import HealthTracker, warnings
from fmnist.model.mlp import MLP
from ui.i18n import engine
from ui.inspect.network_charts import health_text

CONFIG = SEED.replace(conv=(4, 8), kernel=3, pool="max", head="flatten", hidden=(16,), batch_norm=True, dropout=0.0,
                      activation="relu")


def with_dead_channels(dead: list[int]) -> MLP:
    """The tiny CNN, its block 2's channels `dead` made dead: their batch norm's bias so negative that the input to
    their ReLU is below zero everywhere on every image."""
    torch.manual_seed(0)
    model = MLP(CONFIG)
    norms = [m for m in model if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        norms[1].bias[dead] = -1000.0
    return model


@pytest.fixture(scope="module")
def probe(dataset):
    return normalize(dataset.test_images[:500]), dataset.test_labels[:500]


def test_a_block_with_dead_channels_is_named_with_its_channel_count(probe):
    x, y = probe
    tracker = HealthTracker(with_dead_channels([1, 4, 6]), x, steps_per_epoch=1, y_probe=y)
    health, found = tracker.epoch_end()
    assert [h["name"] for h in health] == ["conv 1", "conv 2", "hidden 1"]
    assert health[1]["channels"] == 8 and health[1]["dead"] == pytest.approx(3 / 8)
    assert tracker.blocks[1]["dead"].nonzero()[0].tolist() == [1, 4, 6]
    dead = [w for w in found if "never positive" in w]
    assert dead == ["block 2: 3 of 8 channels are never positive on the probe images (dead); try a lower learning "
                    "rate, batch norm or leaky_relu"]
    assert not any(w.startswith("layer") for w in found), found  # no block is called a layer


def test_a_block_at_the_threshold_is_not_warned_about(probe):
    x, y = probe
    _health, found = HealthTracker(with_dead_channels([2, 5]), x, steps_per_epoch=1, y_probe=y).epoch_end()
    assert not any("never positive" in w for w in found)  # 2 of 8 is 25%, under the 30% line


def row(**kw) -> dict:
    return {"dead": 0.0, "saturated": 0.0, "act_mean": 0.3, "act_std": 0.5, "grad_norm": 0.1, "update_ratio": -3.0,
            "weight_norm": 10.0, **kw}


def test_each_block_warning_names_the_block_and_dense_layers_keep_their_number():
    health = [row(name="conv 1", channels=16, saturated=0.5), row(name="conv 2", channels=32, update_ratio=-0.5),
              row(name="hidden 1", dead=0.5), row(name="conv 3", channels=64, update_ratio=-5.5)]
    sat, fast, dense, slow = warnings(health)
    assert sat.startswith("block 1: 8 of 16 channels are saturated")
    assert fast.startswith("block 2: each step changes its kernels by 10^-0.5") and "too high" in fast
    assert dense.startswith("layer 1: 50% of its units never fire")  # hidden 1, the first dense layer
    assert slow.startswith("block 3: each step changes its kernels by only 10^-5.5")
    [vanishing] = warnings([row(name="conv 1", channels=4, grad_norm=1e-5), row(name="hidden 1", grad_norm=0.1)])
    assert vanishing.startswith("vanishing gradients: block 1's gradient (1.0e-05) is 10,000x smaller than the "
                                "deepest layer's (1.0e-01)")


HANGUL = re.compile("[가-힣]")


@pytest.mark.parametrize("health", [
    [row(name="conv 2", channels=64, dead=3 / 64 + 0.3)],
    [row(name="conv 1", channels=16, saturated=0.5)],
    [row(name="conv 1", channels=16, update_ratio=-0.5)],
    [row(name="conv 1", channels=16, update_ratio=-5.5)],
    [row(name="conv 1", channels=4, grad_norm=1e-5), row(name="hidden 1", grad_norm=0.1)],
])
def test_every_block_warning_reads_in_korean_with_its_figures(health):
    [warning] = warnings(health)
    out = engine(warning, "ko")
    assert HANGUL.search(out) and "channels" not in out and "try" not in out, out
    figures = re.findall(r"\d+(?:\.\d+)?(?:e[-+]\d+)?%?", warning)
    assert all(f in out for f in figures), (figures, out)


def test_the_health_in_words_names_the_blocks():
    epochs = [{"epoch": 1, "health": [row(name="conv 1", channels=4, dead=0.25), row(name="hidden 1")]}]
    assert health_text(epochs).startswith("After epoch 1: convolution 1: 25% dead, gradient norm 1.00e-01")
    assert "hidden 1: 0% dead" in health_text(epochs)
