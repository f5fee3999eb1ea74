"""The network diagram, distributions, health and inspector figures, read straight from the builders."""

import numpy as np
import pytest
import torch

from fmnist.data.dataset import CLASSES
from fmnist.inspect.health import histograms, network_insight
from fmnist.training.step_detail import after_step, before_step
from ui.inspect.network_charts import (
    EDGES_PER_UNIT,
    NEGATIVE,
    POSITIVE,
    batch_caption,
    batch_text,
    distribution_figure,
    health_figure,
    health_rows,
    incoming_figure,
    network_figure,
    unit_from_selection,
)


@pytest.fixture(scope="module")
def net(tiny_result, dataset):
    x = (dataset.test_images[:2000].reshape(2000, 784).float() / 255 - 0.5) / 0.5
    return network_insight(tiny_result.model, x, dataset.test_labels[:2000])


def test_the_diagram_has_a_column_per_layer_and_the_strongest_edges(net, tiny_result):
    fig = network_figure(net)
    nodes = [t for t in fig.data if t.mode and "markers" in t.mode]
    assert [t.name for t in nodes] == ["input", "hidden 1", "output"]
    assert [len(t.x) for t in nodes] == [16, 16, 10]
    assert list(nodes[2].text) == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                   "Sneaker", "Bag", "Ankle boot"]
    np.testing.assert_allclose(nodes[1].marker.color, net["columns"][1]["mean"])  # colour = mean activation
    assert [list(c) for c in nodes[1].customdata[:2]] == [[1, 0, int(net["columns"][1]["shown"][0])],
                                                          [1, 1, int(net["columns"][1]["shown"][1])]]
    titles = " ".join(a.text for a in fig.layout.annotations)
    assert "784 pixels<br>16 shown, 768 more" in titles and "32 units<br>16 shown, 16 more" in titles
    edges = [t for t in fig.data if t.mode == "lines"]
    segments = sum(len(t.x) // 3 for t in edges)
    assert segments == EDGES_PER_UNIT * (16 + 10)  # the strongest few into every shown unit, no more
    assert {t.line.color for t in edges} <= {POSITIVE, NEGATIVE}
    # the strongest edge of all is drawn in the thickest width and its sign's colour
    w = tiny_result.model.linears[1].weight.detach().numpy()[:, net["columns"][1]["shown"]]
    t, s = np.unravel_index(np.abs(w).argmax(), w.shape)
    thickest = max(edges, key=lambda tr: tr.line.width)
    assert thickest.line.color == (POSITIVE if w[t, s] > 0 else NEGATIVE)
    pairs = {(thickest.y[i], thickest.y[i + 1]) for i in range(0, len(thickest.y), 3)}
    assert ((16 - 1) / 2 - s, (10 - 1) / 2 - t) in pairs


def test_a_click_on_a_unit_names_it():
    assert unit_from_selection({"points": [{"customdata": [2, 5, 5]}]}) == (2, 5)
    assert unit_from_selection({"points": [{"x": 1}]}) is None and unit_from_selection(None) is None


def test_distributions_put_each_epoch_on_one_value_grid():
    hists = [{"lo": -1.0, "hi": 1.0, "counts": [10, 0, 0, 10]}, None, {"lo": 0.0, "hi": 2.0, "counts": [0, 0, 0, 5]}]
    fig = distribution_figure(hists, [1, 2, 3], "w", rows=3)
    heat = fig.data[0]
    assert list(heat.x) == [1, 3]  # an epoch without the histogram is left out
    z = np.asarray(heat.z)
    np.testing.assert_allclose(z[:, 0], [0.5, 0.5, 0.0])  # -0.75 and 0.75 on the grid -1..2
    np.testing.assert_allclose(z[:, 1], [0.0, 0.0, 1.0])  # 1.75


def test_distributions_of_real_weights_are_shares(tiny_result):
    rows = histograms(tiny_result.model)
    fig = distribution_figure([rows[0]["weight"]], [1], "hidden 1: weights")
    np.testing.assert_allclose(np.asarray(fig.data[0].z).sum(0), [1.0])


def health(dead, ratio):
    return {"dead": dead, "saturated": 0.0, "act_mean": 0.2, "act_std": 0.4, "grad_norm": 0.01,
            "update_ratio": ratio, "weight_norm": 9.0}


def test_health_figure_and_rows():
    epochs = [{"epoch": 1, "health": [health(0.1, -3.1), health(0.2, -2.5)]},
              {"epoch": 2, "health": [health(0.4, None), health(0.3, -2.4)]}]
    fig = health_figure(epochs)
    dead = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in dead] == ["layer 1", "layer 2"]
    assert list(dead[0].y) == pytest.approx([10.0, 40.0])  # percent
    ratio = [t for t in fig.data if t.xaxis == "x5"]
    assert list(ratio[0].y) == [-3.1, None]
    rows = health_rows(epochs[1]["health"])
    assert rows[0]["dead"] == "40%" and rows[0]["update ratio (log10)"] == "n/a" and rows[1]["layer"] == "hidden 2"


def test_incoming_weights_are_an_image_from_the_pixels_and_bars_otherwise(net):
    fig = incoming_figure(net["columns"][1]["incoming"][0], "input")
    assert fig.data[0].type == "heatmap" and np.asarray(fig.data[0].z).shape == (28, 28)
    bars = incoming_figure(net["columns"][2]["incoming"][3], "hidden 1")
    assert bars.data[0].type == "bar" and len(bars.data[0].y) == 32


def test_the_batch_of_one_step(tiny_result, dataset):
    model = tiny_result.model
    x = (dataset.train_images[:100].reshape(100, 784).float() / 255 - 0.5) / 0.5
    y = dataset.train_labels[:100]
    idx = torch.arange(40)
    state = before_step(model, x, y, idx)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # no change: before and after agree
    opt.step()
    detail = after_step(state, model, 7, 1)
    assert detail.pred_before == detail.pred_after and detail.loss_before == detail.loss_after
    np.testing.assert_array_equal(detail.images[0], dataset.train_images[0].numpy())
    assert detail.batch_size == 40 and len(detail.labels) == 40  # 64 kept at most; this batch has 40

    # The issue saw three counts that disagreed: "(first 32)", "58 of the batch's 64 images", a batch of 256. The
    # words count the images the panel shows (BATCH_SHOWN of them), and name the batch's size beside it.
    shown = detail.__dict__ | {"batch_size": 256}
    right = sum(p == t for p, t in zip(detail.pred_after[:24], detail.labels[:24]))
    assert batch_text(shown) == (f"Step 7: of the 24 images shown, the first of the batch's 256, {right} were "
                                 f"predicted right before the step and {right} after it.")
    # Every caption holds the full names (the panel cut "Ankle b", "Pullove"), true class first.
    for i in range(24):
        caption = batch_caption(detail.__dict__, i)
        name = CLASSES[detail.labels[i]]
        good = detail.pred_after[i] == detail.labels[i]
        assert caption.startswith(":green[:material/check: " if good else ":red[:material/close: ")
        assert f"**{name}**  \n{CLASSES[detail.pred_before[i]]} → {CLASSES[detail.pred_after[i]]}]" in caption


def test_every_class_name_is_shown_whole_in_a_batch_caption():
    labels = list(range(10))
    detail = {"step": 1, "labels": labels, "pred_before": labels[::-1], "pred_after": labels}
    for i, name in enumerate(CLASSES):
        assert f"**{name}**" in batch_caption(detail, i) and CLASSES[9 - i] in batch_caption(detail, i)


def test_top_images_titles_name_the_index_and_the_class_cut_to_a_tile():
    from ui.inspect.network_charts import top_images_titles

    labels = [0, 9, 6]  # T-shirt/top, Ankle boot, Shirt
    assert top_images_titles([2, 1, 0], labels) == ["#2 Shirt", "#1 Ankle boo", "#0 T-shirt/t"]


def test_the_health_figure_counts_channels_for_a_cnn_and_units_for_an_mlp():
    mlp = [{"epoch": 1, "health": [health(0.1, -3.0)]}]
    cnn = [{"epoch": 1, "health": [{**health(0.25, -3.0), "name": "conv 1", "channels": 8}, health(0.0, -3.0)]}]
    titles = [[a.text for a in health_figure(e).layout.annotations][:2] for e in (mlp, cnn)]
    assert titles == [["dead units (%)", "saturated units (%)"],
                      ["dead units or channels (%)", "saturated units or channels (%)"]]
