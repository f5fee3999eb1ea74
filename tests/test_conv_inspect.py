"""The convolution blocks' insight (#36) on a tiny network with hand-set weights: kernels, feature maps, receptive
fields, channel health and the channel inspector's data, each against a hand computation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from fmnist.config import SEED
from fmnist.data.dataset import BLACK
from fmnist.inspect import conv
from fmnist.model.mlp import MLP
from fmnist.training.control import RunControl
from fmnist.training.loop import train
from fmnist.training.notebook import seeded_init
from tests.helpers import TINY_CNN

CONFIG = SEED.replace(conv=(2, 3), kernel=3, pool="max", head="flatten", hidden=(4,), batch_norm=False, dropout=0.0,
                      activation="relu")


def hand_set(pool: str = "max") -> MLP:
    """Block 1: channel 0 passes the pixel through (a centre 1), channel 1 is -1 everywhere before its ReLU (dead).
    Block 2: channel c's kernels over the two input channels are c + (0, 1, ..., 8) and c + 2 + (0, ..., 8), its bias
    -1000, so it never fires on these images (dead)."""
    model = MLP(CONFIG.replace(pool=pool))
    c1, c2 = model.convolutions
    with torch.no_grad():
        c1.weight.zero_()
        c1.weight[0, 0, 1, 1] = 1.0
        c1.bias[:] = torch.tensor([0.0, -1.0])
        base = torch.arange(9.0).reshape(3, 3)
        for c in range(3):
            c2.weight[c, 0] = c + base
            c2.weight[c, 1] = c + 2 + base
        c2.bias[:] = -1000.0
    return model


def dots(values, places) -> torch.Tensor:
    """One image per value: black, with one pixel of that value at (row, col)."""
    x = torch.full((len(values), 28, 28), BLACK)
    for i, (v, (r, c)) in enumerate(zip(values, places)):
        x[i, r, c] = v
    return x.reshape(-1, 784)


def test_spans_find_each_block_s_convolution_activation_and_end():
    model = hand_set()
    mods = list(model)
    spans = conv.spans(model)
    assert len(spans) == 2
    assert [type(mods[s.conv]).__name__ for s in spans] == ["Conv2d", "Conv2d"]
    assert [type(mods[s.activation]).__name__ for s in spans] == ["ReLU", "ReLU"]
    assert type(mods[spans[0].end]).__name__ == "Conv2d" and type(mods[spans[1].end]).__name__ == "Flatten"
    assert conv.spans(MLP(SEED)) == []


def test_kernel_images_are_the_first_kernels_and_the_mean_over_input_channels_deeper():
    first, second = conv.kernel_images(hand_set())
    assert first.shape == (2, 3, 3) and second.shape == (3, 3, 3)
    assert first[0].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]] and not first[1].any()
    # by hand: channel c's mean of (c + k) and (c + 2 + k) is c + 1 + k
    for c in range(3):
        assert second[c].tolist() == (c + 1 + np.arange(9.0).reshape(3, 3)).tolist()


def test_feature_maps_have_each_block_s_shape_and_the_hand_computed_values():
    model = hand_set()
    x = dots([0.8, 0.3], [(5, 6), (20, 27)])
    first, second = conv.feature_maps(model, x)
    assert first.shape == (2, 2, 14, 14) and second.shape == (2, 3, 7, 7)
    assert first.dtype == np.float16
    # channel 0 is max-pool 2 of ReLU(image): the black background (< 0) gives 0, the dot lands in pooled cell
    # (row // 2, col // 2) with its value; channel 1 is ReLU(-1) = 0 everywhere
    expected = np.zeros((2, 14, 14), dtype=np.float32)
    expected[0, 2, 3], expected[1, 10, 13] = 0.8, 0.3
    assert np.allclose(first[:, 0], expected, atol=1e-3)
    assert not first[:, 1].any()
    assert not second.any()  # block 2's bias keeps every channel below 0


def test_feature_maps_match_the_model_s_own_forward_pass_and_leave_its_mode():
    torch.manual_seed(0)
    model = MLP(CONFIG.replace(batch_norm=True, dropout=0.2))
    model.train()
    x = torch.randn(3, 784)
    maps = conv.feature_maps(model, x)
    assert model.training
    model.eval()
    flat = torch.nn.Sequential(*list(model)[:conv.spans(model)[-1].end])(x)
    assert np.allclose(maps[-1].astype(np.float32), flat.detach().numpy(), atol=2e-2)


def test_receptive_fields_by_hand():
    # k 3, padding 1: the block 1 map sees 3 x 3 pixels from -1; after a 2 x 2 pool of stride 2 a step is 2 pixels
    # and the window 4; block 2's 3 x 3 kernel adds 2 steps of 2 and its padding moves the start back by one step
    first, second = conv.fields(hand_set())
    assert (first.size, first.jump, first.start) == (3, 1, -1)
    assert (second.size, second.jump, second.start) == (8, 2, -3)
    assert first.box(5, 6) == (4, 5, 6, 7)
    assert second.box(0, 0) == (0, 0, 4, 4)  # rows -3..4, clipped to the image
    assert second.box(3, 13) == (3, 23, 10, 27)


def test_receptive_fields_are_the_pixels_a_position_s_gradient_reaches():
    """With average pooling, positive kernels and a positive image every path carries gradient, so the pixels that
    move a block 2 activation are exactly its receptive field."""
    model = MLP(CONFIG.replace(pool="avg"))
    with torch.no_grad():
        for c in model.convolutions:
            c.weight.fill_(0.1)
            c.bias.fill_(0.1)
    field = conv.fields(model)[1]
    span = conv.spans(model)[1]
    for r, c in [(0, 0), (3, 4), (6, 6)]:
        x = torch.ones(1, 784, requires_grad=True)
        act = torch.nn.Sequential(*list(model)[:span.activation + 1])(x)
        act[0, 0, r, c].backward()
        rows, cols = np.nonzero(x.grad.reshape(28, 28).numpy())
        assert (rows.min(), cols.min(), rows.max(), cols.max()) == field.box(r, c)


def test_conv_insight_health_class_means_and_top_images_by_hand():
    model = hand_set()
    values = [0.1 * (i + 1) for i in range(12)]
    places = [(i, 2 * i) for i in range(12)]
    x, y = dots(values, places), torch.arange(12) % 10
    blocks = conv.conv_insight(model, x, y, chunk=5)  # three chunks: the running sums and tops must carry over
    first, second = blocks
    assert first["name"] == "conv 1" and first["shape"] == (2, 14, 14) and second["shape"] == (3, 7, 7)
    assert first["dead"].tolist() == [False, True] and second["dead"].tolist() == [True, True, True]
    # channel 0's activation is ReLU(image): the dot's value at one of 784 positions, 0 elsewhere
    assert first["mean"][0] == pytest.approx(sum(values) / (12 * 784), rel=1e-5)
    assert first["mean"][1] == 0
    per_image = np.array(values) / 784
    for c in range(10):
        assert first["class_mean"][0, c] == pytest.approx(per_image[y.numpy() == c].mean(), rel=1e-5)
    # the brightest dots first; each box is the 3 x 3 pixels around the dot, clipped to the image
    assert first["top"][0].tolist() == [11, 10, 9, 8, 7, 6, 5, 4, 3]
    for i, box in zip(first["top"][0], first["box"][0]):
        r, c = places[i]
        assert tuple(box) == (max(r - 1, 0), max(c - 1, 0), min(r + 1, 27), min(c + 1, 27))
    assert first["kernels"].shape == (2, 3, 3) and first["class_mean"].shape == (2, 10)
    assert first["top"].shape == (2, 9) and first["box"].shape == (2, 9, 4)
    rows = conv.health_rows(blocks)
    assert [r["dead"] for r in rows] == [0.5, 1.0]
    assert rows[0]["act_mean"] == pytest.approx(sum(values) / (12 * 784 * 2), rel=1e-5)


def test_class_examples_are_each_class_s_first_image():
    assert conv.class_examples(torch.tensor([3, 1, 3, 0, 1])) == [3, 1, 0]


def test_a_step_while_paused_carries_the_kernels_and_maps_after_it(dataset):
    """A CNN run asked for insight sends its kernels and feature maps with each Step, so the tabs redraw while
    paused; they are the weights after the step, not the initial ones."""
    config = TINY_CNN.replace(epochs=1)
    control = RunControl()
    control.pause()
    events = []
    worker = threading.Thread(target=lambda: events.extend(train(config, dataset, control, insight=True)))
    worker.start()
    try:
        control.request_step()
        for _ in range(1200):
            if any(e.kind == "step_detail" for e in events):
                break
            threading.Event().wait(0.05)
        (detail,) = [e for e in events if e.kind == "step_detail"]
    finally:
        control.stop()
        control.resume()
        worker.join(120)
    views = detail.conv
    assert [k.shape for k in views["kernels"]] == [(4, 3, 3)] and [m.shape for m in views["maps"]] == [(10, 4, 14, 14)]
    assert views["images"] == conv.class_examples(dataset.test_labels[:2000])
    start = conv.kernel_images(seeded_init(config)[0])[0]
    assert not np.allclose(views["kernels"][0], start)  # one Adam step moved every kernel
