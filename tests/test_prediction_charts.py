"""Content tests of the pure helpers behind Explore, Evaluate and Classify (no streamlit involved)."""

import numpy as np
import pytest

from fmnist.data.dataset import CLASSES
from ui.inspect.prediction_charts import (
    LEAST_CONFIDENT,
    MOST_CONFIDENT,
    NEUTRAL,
    PREDICTED,
    RIGHT,
    WRONG,
    cell_from_selection,
    confusion_figure,
    filter_indices,
    most_confident_mistakes,
    most_confused_pair,
    normalized_rows,
    page_count,
    page_of,
    probability_figure,
    saliency_figure,
    tile_caption,
    top_k,
    upscale,
)

# Six hand-made predictions: index -> (true, predicted, confidence of the prediction).
TRUE = np.array([0, 0, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 0, 2, 1])
CONF = np.array([0.9, 0.8, 0.6, 0.95, 0.7, 0.5])


def probs_for(pred: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Probability rows whose argmax is `pred` with value `conf`, the rest spread evenly."""
    p = np.repeat(((1 - conf) / 9)[:, None], 10, axis=1)
    p[np.arange(len(pred)), pred] = conf
    return p


PROBS = probs_for(PRED, CONF)


def test_filter_indices_by_class_and_correctness():
    assert filter_indices(PRED, TRUE, PROBS).tolist() == [0, 1, 2, 3, 4, 5]
    assert filter_indices(PRED, TRUE, PROBS, correctness="Wrong").tolist() == [1, 3, 5]
    assert filter_indices(PRED, TRUE, PROBS, correctness="Correct").tolist() == [0, 2, 4]
    assert filter_indices(PRED, TRUE, PROBS, true_class=1).tolist() == [2, 3]
    assert filter_indices(PRED, TRUE, PROBS, pred_class=1).tolist() == [1, 2, 5]
    assert filter_indices(PRED, TRUE, PROBS, true_class=2, pred_class=1).tolist() == [5]
    assert filter_indices(PRED, TRUE, PROBS, true_class=0, correctness="Wrong").tolist() == [1]
    assert filter_indices(PRED, TRUE, PROBS, true_class=3).tolist() == []


def test_filter_indices_sorts_by_confidence():
    assert filter_indices(PRED, TRUE, PROBS, sort=MOST_CONFIDENT).tolist() == [3, 0, 1, 4, 2, 5]
    assert filter_indices(PRED, TRUE, PROBS, sort=LEAST_CONFIDENT).tolist() == [5, 2, 4, 1, 0, 3]
    assert filter_indices(PRED, TRUE, PROBS, pred_class=1, sort=LEAST_CONFIDENT).tolist() == [5, 2, 1]


def test_filter_indices_rejects_unknown_options():
    with pytest.raises(ValueError):
        filter_indices(PRED, TRUE, PROBS, correctness="Maybe")
    with pytest.raises(ValueError):
        filter_indices(PRED, TRUE, PROBS, sort="Alphabetical")


def test_most_confident_mistakes_are_wrong_and_surest_first():
    assert most_confident_mistakes(PRED, TRUE, PROBS).tolist() == [3, 1, 5]


def test_paging_covers_every_index_once_and_clamps():
    idx = np.arange(50)
    assert page_count(50, 24) == 3 and page_count(48, 24) == 2 and page_count(0, 24) == 1
    pages = [page_of(idx, p, 24) for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [24, 24, 2]
    assert np.concatenate(pages).tolist() == idx.tolist()
    assert page_of(idx, 99, 24).tolist() == [48, 49]
    assert page_of(idx, 0, 24).tolist() == list(range(24))


def test_confusion_figure_counts_and_axes():
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 50, size=(10, 10))
    fig = confusion_figure(confusion, normalize=False)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(heat.z), confusion)
    assert list(heat.x) == list(CLASSES) and list(heat.y) == list(CLASSES)
    assert heat.text[3][7] == str(confusion[3, 7])  # the annotation is the count itself
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 (T-shirt/top) at the top, like the matrix
    assert "True" in fig.layout.yaxis.title.text and "Predicted" in fig.layout.xaxis.title.text


def test_confusion_figure_normalized_rows_sum_to_100():
    confusion = np.arange(100).reshape(10, 10)
    confusion[4] = 0  # an empty class must not produce NaN
    z = np.asarray(confusion_figure(confusion, normalize=True).data[0].z, dtype=float)
    sums = z.sum(axis=1)
    np.testing.assert_allclose(np.delete(sums, 4), 100.0)
    assert sums[4] == 0 and not np.isnan(z).any()
    np.testing.assert_allclose(z[1], 100 * confusion[1] / confusion[1].sum())
    np.testing.assert_allclose(normalized_rows(confusion), z)


def test_confusion_overlay_maps_every_cell_to_true_and_predicted():
    confusion = np.arange(100).reshape(10, 10)
    overlay = confusion_figure(confusion).data[1]
    assert overlay.type == "scatter" and len(overlay.x) == 100
    for x, y, (t, p, count) in zip(overlay.x, overlay.y, overlay.customdata, strict=True):
        assert (CLASSES[t], CLASSES[p]) == (y, x)
        assert count == confusion[t, p]


def test_confusion_figure_outlines_the_chosen_cell():
    assert not confusion_figure(np.eye(10)).layout.shapes
    (shape,) = confusion_figure(np.eye(10), highlight=(6, 0)).layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (-0.5, 0.5, 5.5, 6.5)  # column 0 (predicted), row 6 (true)


def test_cell_from_selection():
    assert cell_from_selection(None) is None
    assert cell_from_selection({"points": [], "point_indices": [], "box": [], "lasso": []}) is None
    assert cell_from_selection({"points": [{"customdata": [6, 0, 120], "x": "T-shirt/top", "y": "Shirt"}]}) == (6, 0)
    # Without customdata the category names on the axes still identify the cell.
    assert cell_from_selection({"points": [{"x": "Sneaker", "y": "Sandal"}]}) == (5, 7)
    assert cell_from_selection({"points": [{"x": 3, "y": 4}]}) is None


def test_most_confused_pair_ignores_the_diagonal():
    confusion = np.diag([900] * 10)
    confusion[6, 0] = 120
    confusion[0, 6] = 80
    assert most_confused_pair(confusion) == (6, 0)


def test_probability_figure_bars_equal_inputs_and_highlight_argmax():
    probs = np.array([0.05, 0.02, 0.1, 0.03, 0.6, 0.05, 0.1, 0.02, 0.02, 0.01])
    bar = probability_figure(probs).data[0]
    np.testing.assert_allclose(bar.y, probs)
    assert list(bar.x) == list(CLASSES)
    colors = list(bar.marker.color)
    assert colors[4] == PREDICTED and colors.count(NEUTRAL) == 9


def test_probability_figure_marks_truth_and_mistake():
    probs = np.array([0.05, 0.02, 0.1, 0.03, 0.6, 0.05, 0.1, 0.02, 0.02, 0.01])
    wrong = probability_figure(probs, true_label=2).data[0]
    colors = list(wrong.marker.color)
    assert colors[4] == WRONG and colors[2] == RIGHT and colors.count(NEUTRAL) == 8
    assert "✓" in wrong.x[2]
    right = list(probability_figure(probs, true_label=4).data[0].marker.color)
    assert right[4] == RIGHT and right.count(NEUTRAL) == 9


def test_top_k_and_captions():
    probs = [0.1, 0.5, 0.0, 0.3, 0.1, 0, 0, 0, 0, 0]
    assert top_k(probs) == [("Trouser", 0.5), ("Dress", 0.3), ("T-shirt/top", 0.1)]
    assert tile_caption(7, 1, 1, 0.5).startswith(":material/check_circle:")
    wrong = tile_caption(7, 1, 3, 0.87)
    assert wrong.startswith(":red[:material/cancel:") and "#7" in wrong and "87%" in wrong and "Trouser" in wrong


def test_upscale_is_nearest_neighbour():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2)
    big = upscale(img, 3)
    assert big.shape == (6, 6) and big.dtype == np.uint8
    assert (big[:3, :3] == 0).all() and (big[3:, 3:] == 3).all() and (big[:3, 3:] == 1).all()


def _saliency_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    attribution = rng.normal(0, 0.01, (28, 28))
    attribution[3, 5] = -0.2  # the largest magnitude is negative: the range must still be symmetric
    return img, attribution


def test_saliency_figure_overlays_the_attribution_on_the_image():
    img, attribution = _saliency_inputs()
    image, overlay = saliency_figure(img, attribution).data
    np.testing.assert_array_equal(np.asarray(image.z), img)
    assert (image.zmin, image.zmax) == (0, 255)
    np.testing.assert_allclose(np.asarray(overlay.z), attribution)
    assert overlay.zmin == pytest.approx(-0.2) and overlay.zmax == pytest.approx(0.2)
    # Diverging: blue for negative, red for positive, see-through at 0 so the image shows where nothing mattered.
    scale = [c for _, c in overlay.colorscale]
    assert "33, 102, 172" in scale[0] and "178, 24, 43" in scale[-1]
    assert scale[len(scale) // 2].replace(" ", "").endswith(",0)")


def test_saliency_figure_keeps_pixels_square_and_row_zero_on_top():
    img, attribution = _saliency_inputs()
    layout = saliency_figure(img, attribution).layout
    assert layout.yaxis.autorange == "reversed" and layout.yaxis.scaleanchor == "x"


@pytest.mark.parametrize("attribution", [np.zeros((28, 28)), np.full((28, 28), 0.5)])
def test_saliency_range_is_symmetric_and_never_empty(attribution):
    overlay = saliency_figure(np.zeros((28, 28), np.uint8), attribution).data[1]
    assert overlay.zmin == -overlay.zmax and overlay.zmax > 0


def test_saliency_figure_rejects_other_shapes():
    with pytest.raises(ValueError, match="28x28"):
        saliency_figure(np.zeros((28, 28), np.uint8), np.zeros(784))
