"""Explore, Evaluate and Classify driven through Streamlit's AppTest, on the tiny trained default checkpoint.

The drawing canvas is a custom component AppTest cannot draw on (it reports no image, i.e. a blank drawing);
the browser tests cover drawing. Everything else, uploads included, is driven here.
"""

import base64
import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from fmnist.config import BEST
from fmnist.data.dataset import CLASSES, device_tensors
from fmnist.data.images import model_input
from fmnist.inspect.evaluate import evaluate
from fmnist.inspect.explain import saliency
from fmnist.inspect.predict import LocalModel, probabilities
from fmnist.model.mlp import MLP
from fmnist.store import checkpoints
from tests.helpers import APP
from tests.timing import call_times
from ui.inspect.prediction_charts import MOST_CONFIDENT, confidences, filter_indices
from ui.inspect.prediction_view import classify_bytes, classify_canvas, explain

PAGES = ("pages/explore.py", "pages/evaluate.py", "pages/classify.py")


@pytest.fixture(scope="module")
def model(checkpoint_dir):
    return checkpoints.load(checkpoint_dir / "default.safetensors").model()


@pytest.fixture(scope="module")
def expected(model, dataset):
    """What the pages should show: the same evaluation ui.session computes, made here independently."""
    _, _, x, y = device_tensors(dataset, torch.device("cpu"))
    return evaluate(model, x, y)


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def match_count(at: AppTest, phrase: str) -> int:
    """The bold number at the start of the Markdown line that contains `phrase`."""
    lines = [m.value for m in at.markdown if phrase in m.value]
    assert len(lines) == 1, [m.value for m in at.markdown]
    return int(re.match(r"\*\*([\d,]+)\*\*", lines[0]).group(1).replace(",", ""))


def tiles(at: AppTest) -> list[str]:
    """Captions of the image tiles (each names its test index as #N)."""
    return [c.value for c in at.caption if re.search(r"#\d+", c.value)]


def tile_indices(at: AppTest) -> list[int]:
    return [int(re.search(r"#(\d+)", t).group(1)) for t in tiles(at)]


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_and_names_the_active_model(ckpt_dir, page):
    at = open_page(page)
    assert at.title[0].value
    assert any("default" in c.value for c in at.sidebar.caption)
    assert not at.error


@pytest.mark.parametrize("page", PAGES)
def test_page_without_a_model_points_to_train(tmp_path, monkeypatch, page):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path))
    at = open_page(page)
    assert any("Train page" in i.value for i in at.info)


def test_explore_wrong_only_shows_mistakes(ckpt_dir, expected, dataset):
    at = open_page("pages/explore.py")
    assert match_count(at, "test images match") == 10_000
    assert len(tiles(at)) == 24
    at.radio(key="explore_correctness").set_value("Wrong").run()
    mistakes = int(expected.confusion.sum() - np.trace(expected.confusion))
    assert match_count(at, "test images match") == mistakes
    shown = tiles(at)
    assert len(shown) == min(24, mistakes) and all(t.startswith(":red[:material/cancel:") for t in shown)
    labels = dataset.test_labels.numpy()
    assert all(expected.predictions[i] != labels[i] for i in tile_indices(at))


def test_explore_class_filter_and_paging(ckpt_dir, expected, dataset):
    at = open_page("pages/explore.py")
    at.selectbox(key="explore_true").set_value("Bag").run()
    assert match_count(at, "test images match") == int(expected.confusion[8].sum())
    labels = dataset.test_labels.numpy()
    first = tile_indices(at)
    assert all(labels[i] == 8 for i in first) and first == sorted(first)
    at.get("pagination")[0].set_value(2).run()
    second = tile_indices(at)
    assert second[0] > first[-1] and all(labels[i] == 8 for i in second)
    at.radio(key="explore_correctness").set_value("Correct").run()  # a new list starts on its first page
    correct = filter_indices(expected.predictions, labels, expected.probabilities, true_class=8,
                             correctness="Correct")
    assert tile_indices(at) == correct[:24].tolist()


def test_explore_filters_survive_a_visit_to_another_page(ckpt_dir):
    at = open_page("pages/explore.py")
    at.radio(key="explore_correctness").set_value("Wrong").run()
    at.switch_page("pages/evaluate.py").run()
    at.switch_page("pages/explore.py").run()
    assert at.radio(key="explore_correctness").value == "Wrong"


def test_explore_most_confident_mistakes_button(ckpt_dir, expected, dataset):
    at = open_page("pages/explore.py")
    at.selectbox(key="explore_true").set_value("Bag").run()
    at.button(key="explore_mistakes").click().run()
    assert at.radio(key="explore_correctness").value == "Wrong"
    assert at.selectbox(key="explore_sort").value == MOST_CONFIDENT
    assert at.selectbox(key="explore_true").value == "All classes"
    labels = dataset.test_labels.numpy()
    want = filter_indices(expected.predictions, labels, expected.probabilities, correctness="Wrong",
                          sort=MOST_CONFIDENT)[:24]
    assert tile_indices(at) == want.tolist()
    conf = confidences(expected.probabilities)[want]
    assert (np.diff(conf) <= 0).all()
    assert at.number_input(key="explore_selected").value == want[0]  # the worst mistake is shown up close


def test_explore_inspect_button_shows_that_image(ckpt_dir, expected, dataset):
    at = open_page("pages/explore.py")
    index = tile_indices(at)[5]
    at.button(key=f"explore_pick_{index}").click().run()
    assert at.number_input(key="explore_selected").value == index
    label = CLASSES[int(dataset.test_labels[index])]
    assert any(f"#{index}**" in m.value and label in m.value for m in at.markdown)


def test_evaluate_shows_the_checkpoint_evaluation(ckpt_dir, expected):
    at = open_page("pages/evaluate.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{expected.accuracy:.2f}%"
    assert metrics["Test loss"] == f"{expected.loss:.4f}"
    table = next(m.value for m in at.markdown if m.value.startswith("| Class |"))
    rows = table.splitlines()[2:]
    assert len(rows) == 10 and all(r.rstrip(" |").endswith("1,000") for r in rows)  # every class's images, whole
    at.toggle(key="evaluate_normalize").set_value(True).run()
    assert not at.exception


def test_classify_says_why_a_photo_may_be_misread(ckpt_dir):
    at = open_page("pages/classify.py")
    caveat = [c.value for c in at.caption if c.value.startswith("A photo may be misread")]
    assert len(caveat) == 1 and "background is removed" in caveat[0]


@pytest.mark.parametrize("true,pred", [(6, 0), (1, 1), (9, 1)])
def test_evaluate_cell_selectboxes_show_that_cell(ckpt_dir, expected, true, pred):
    at = open_page("pages/evaluate.py")
    at.selectbox(key="evaluate_true").set_value(CLASSES[true])
    at.selectbox(key="evaluate_pred").set_value(CLASSES[pred]).run()
    n = int(expected.confusion[true, pred])
    if n == 0:
        assert any("No " in i.value for i in at.info) and not tiles(at)
        return
    assert match_count(at, "predicted as") == n
    assert len(tiles(at)) == min(n, 30)


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def confident_test_images(expected, dataset, count: int = 5) -> list[int]:
    """Correct predictions made with the most confidence: reframing the image must not change them."""
    labels = dataset.test_labels.numpy()
    return filter_indices(expected.predictions, labels, expected.probabilities, correctness="Correct",
                          sort=MOST_CONFIDENT)[:count].tolist()


def test_classify_bytes_matches_prediction_on_raw_test_image(model, expected, dataset):
    for i in confident_test_images(expected, dataset):
        raw = dataset.test_images[i].numpy()
        out = classify_bytes(LocalModel(model), png_bytes(raw), f"test{i}.png")
        assert "error" not in out, out
        assert out["label_index"] == int(np.argmax(probabilities(model, raw)))
        assert out["image"].shape == (28, 28) and out["image"].dtype == np.uint8
        assert out["top3"][0][0] == out["label"] and np.isclose(out["probabilities"].sum(), 1, atol=1e-5)


def test_classify_bytes_and_canvas_report_bad_input(model):
    assert classify_bytes(LocalModel(model), b"hello, not an image", "notes.png") == {
        "error": "notes.png: this is a text file, not an image", "blank": False}
    blank = classify_bytes(LocalModel(model), png_bytes(np.zeros((40, 40), np.uint8)), "black.png")
    assert blank["blank"] is True
    assert classify_canvas(LocalModel(model), None)["blank"] is True
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[..., 3] = 255
    drawing[60:220, 100:180, :3] = 255  # a white block: something to classify
    out = classify_canvas(LocalModel(model), drawing)
    assert out["label"] in CLASSES and out["image"].max() == 255


def median_seconds(fn, runs: int = 5) -> float:
    """The median of `runs` timed calls after one untimed (first calls pay for lazy imports): the median, so one
    scheduling hiccup on a shared CPU does not fail a test."""
    return call_times(fn, runs)[runs // 2]


@pytest.mark.serial  # timed: runs alone, after the parallel part of `make test`
def test_classifying_a_drawing_is_fast(model):
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[..., 3] = 255
    drawing[40:240, 100:180, :3] = 255
    assert median_seconds(lambda: classify_canvas(LocalModel(model), drawing)) < 0.1


def test_classify_upload_through_the_page(ckpt_dir, model, expected, dataset):
    at = open_page("pages/classify.py")
    uploader = at.get("file_uploader")[0]
    assert set(uploader.allowed_type) >= {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}
    assert any(i.value.startswith("Nothing to classify") for i in at.info)  # the untouched canvas
    i = confident_test_images(expected, dataset, 1)[0]
    uploader.set_value((f"test{i}.png", png_bytes(dataset.test_images[i].numpy()), "image/png"))
    at.run()
    assert not at.exception and not at.error
    label = CLASSES[int(expected.predictions[i])]
    assert any(m.value.startswith(f"## {label} ·") for m in at.markdown)
    at.get("file_uploader")[0].set_value(("notes.png", b"hello, not an image", "image/png"))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["notes.png: this is a text file, not an image"]


def plotly_z(trace: dict) -> np.ndarray:
    """A heatmap's z from a chart spec: Plotly writes numpy arrays as base64 typed arrays, lists as lists."""
    z = trace["z"]
    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")]  # "28, 28"
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"])).reshape(shape)
    return np.asarray(z, dtype=np.float64)


def saliency_charts(at: AppTest) -> list[dict]:
    """Specs of the saliency figures on the page (their keys end in _saliency)."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart") if el.proto.id.endswith("_saliency")]


def assert_explains(spec: dict, model, img28: np.ndarray, target: int) -> None:
    image, overlay = spec["data"]
    np.testing.assert_array_equal(plotly_z(image), img28)
    want = saliency(model, model_input(img28), target)
    np.testing.assert_allclose(plotly_z(overlay), want, rtol=1e-4, atol=1e-6 * float(np.abs(want).max()))
    assert overlay["zmin"] == -overlay["zmax"] and overlay["zmax"] == pytest.approx(float(np.abs(want).max()))


def test_explore_detail_shows_saliency_of_the_prediction(ckpt_dir, model, expected, dataset):
    at = open_page("pages/explore.py")
    index = int(at.number_input(key="explore_selected").value)
    (spec,) = saliency_charts(at)
    assert_explains(spec, model, dataset.test_images[index].numpy(), int(expected.predictions[index]))
    assert any(c.value.startswith(f"Why **{CLASSES[int(expected.predictions[index])]}**") for c in at.caption)


def test_explore_saliency_of_a_mistake_can_explain_the_true_class(ckpt_dir, model, expected, dataset):
    labels = dataset.test_labels.numpy()
    index = int(np.flatnonzero(expected.predictions != labels)[0])
    at = open_page("pages/explore.py")
    at.number_input(key="explore_selected").set_value(index).run()
    assert_explains(saliency_charts(at)[0], model, dataset.test_images[index].numpy(), int(expected.predictions[index]))
    at.get("button_group")[0].select("True class").run()
    assert not at.exception
    assert_explains(saliency_charts(at)[0], model, dataset.test_images[index].numpy(), int(labels[index]))


def test_classify_upload_shows_saliency_of_the_prediction(ckpt_dir, model, expected, dataset):
    at = open_page("pages/classify.py")
    assert not saliency_charts(at)  # a blank canvas has nothing to explain
    i = confident_test_images(expected, dataset, 1)[0]
    raw = dataset.test_images[i].numpy()
    at.get("file_uploader")[0].set_value((f"test{i}.png", png_bytes(raw), "image/png"))
    at.run()
    assert not at.exception
    (spec,) = saliency_charts(at)
    out = classify_bytes(LocalModel(model), png_bytes(raw), f"test{i}.png")
    assert_explains(spec, model, out["image"], out["label_index"])


@pytest.mark.serial
@pytest.mark.parametrize("which", ["tiny", "best"])
def test_saliency_is_fast(model, dataset, which):
    """Classify and Explore compute it on every run, uncached: it must stay well under 100 ms on a CPU."""
    net = model if which == "tiny" else MLP(BEST).eval()  # the best preset's layers, weights untrained
    img = dataset.test_images[0].numpy()
    assert median_seconds(lambda: explain(LocalModel(net), img)) < 0.1
