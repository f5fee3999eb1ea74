"""The CNN's charts (#36), read directly from the pure builders: kernels and maps on one colour scale centred on 0,
the top images with their receptive fields outlined, and the blocks drawn as stacks of maps with their shapes."""

from __future__ import annotations

import numpy as np
import torch

from fmnist.config import SEED
from fmnist.inspect import conv
from fmnist.inspect.health import network_insight
from fmnist.model.mlp import MLP
from tests.helpers import array
from ui.inspect.conv_charts import (
    blocks_figure,
    blocks_text,
    kernels_figure,
    kernels_text,
    maps_figure,
    maps_text,
    top_images_figure,
)

CONFIG = SEED.replace(conv=(4, 6), kernel=3, pool="max", head="flatten", hidden=(8,), batch_norm=False, dropout=0.0)


def test_kernels_are_tiled_on_one_scale_centred_on_zero():
    kernels = np.arange(-9, 9, dtype=np.float32).reshape(2, 3, 3)
    fig = kernels_figure(kernels, "k")
    heat = fig.data[0]
    z = array(heat.z).reshape(3, 7)  # two 3 x 3 tiles side by side, one blank column between
    assert np.array_equal(z[:, :3], kernels[0]) and np.array_equal(z[:, 4:], kernels[1])
    assert np.isnan(z[:, 3]).all()
    assert (heat.zmin, heat.zmax, heat.zmid) == (-9, 9, 0)
    assert np.asarray(heat.customdata)[0, 5] == 1  # the hover names the second tile's channel
    assert "2 kernels of 3 × 3" in kernels_text(kernels, "conv 1") and "channel 0" in kernels_text(kernels, "conv 1")


def test_maps_name_the_channel_that_responds_most():
    maps = np.zeros((4, 7, 7), dtype=np.float16)
    maps[2, 3, 3] = 5.0
    maps[1] = -1.0
    fig = maps_figure(maps, "m")
    assert array(fig.data[0].z).size == 15 * 15 and (fig.data[0].zmin, fig.data[0].zmax) == (-5, 5)
    text = maps_text(maps, "conv 2")
    assert "convolution 2: 4 maps of 7 × 7" in text and "channel 2 responds most (up to 5)" in text
    assert "3 channels stay at 0 or below" in text


def test_top_images_outline_each_receptive_field():
    images = np.zeros((9, 28, 28), dtype=np.uint8)
    boxes = np.array([[i, i, i + 2, i + 3] for i in range(9)])
    fig = top_images_figure(images, boxes, [str(i) for i in range(9)], "top")
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 9
    # image 4 is the middle of the 3 x 3 grid: 29 pixels (28 and the gap) right and down
    r = rects[4]
    assert (r.x0, r.x1, r.y0, r.y1) == (29 + 4 - 0.5, 29 + 7 + 0.5, 29 + 4 - 0.5, 29 + 6 + 0.5)


def test_the_blocks_are_stacks_of_maps_with_their_shapes_and_dead_channels():
    torch.manual_seed(0)
    model = MLP(CONFIG)
    x, y = torch.randn(40, 784), torch.arange(40) % 10
    blocks = conv.conv_insight(model, x, y)
    net = network_insight(model, x, y, blocks)
    head, hidden, output = net["columns"]
    assert head["name"] == "head" and head["units"] == 6 * 7 * 7 and len(head["shown"]) == 16
    assert hidden["incoming"].shape == (8, 6 * 7 * 7) and net["blocks"] is blocks
    fig = blocks_figure(blocks, head["units"])
    labels = [a.text for a in fig.layout.annotations]
    assert any("convolution 1<br>4 × 14 × 14" in t for t in labels)
    assert any("convolution 2<br>6 × 7 × 7" in t for t in labels)
    assert any("into the dense layers<br>294" in t for t in labels)
    # the image, then each block's stack: 1 + 4 + 6 squares (at most 8 a stack), and the features' bar
    assert len(fig.layout.shapes) == 1 + 4 + 6 + 1
    assert blocks_text(blocks, 294).startswith("1 × 28 × 28 image → convolution 1 4 × 14 × 14")
