"""A CNN's feature maps of one image on Explore (the selected test image) and on Classify (the upload; the drawing
goes the same way, but AppTest cannot draw): every block's channels at the block's shape, the values those of the
engine's feature_maps for that image; an MLP shows none (#36 item 2)."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from fmnist.config import SEED
from fmnist.data.images import model_input, prepare_image
from fmnist.inspect.conv import feature_maps
from fmnist.model.mlp import MLP
from fmnist.store import checkpoints
from tests.helpers import APP, array, run, title
from ui.inspect.explain_charts import grid_shape, tile

CONFIG = SEED.replace(conv=(4, 6), kernel=3, pool="max", head="flatten", hidden=(16,), batch_norm=False, dropout=0.0)
SHAPES = [(4, 14, 14), (6, 7, 7)]


@pytest.fixture
def cnn(ckpt_dir):
    """A tiny CNN (its initial weights: the maps need no training to have their shapes and values) saved beside the
    tiny default as `tinycnn`."""
    torch.manual_seed(0)
    model = MLP(CONFIG)
    meta = checkpoints.load(ckpt_dir / "default.safetensors").meta
    checkpoints.CheckpointStore(ckpt_dir).save("tinycnn", model, {**meta, "config": CONFIG.to_dict()})
    return checkpoints.load(ckpt_dir / "tinycnn.safetensors").model()


def open_page(page: str, active: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["active_model"] = active
    at.switch_page(page)
    return run(at)


def maps_charts(at: AppTest, key: str) -> list[dict]:
    """The specs of the page's feature-map charts under `key` (key_0, key_1, ...), block by block."""
    found = {}
    for chart in at.get("plotly_chart"):
        block = re.search(rf"{key}_(\d+)$", str(chart.proto.id))
        if block:
            found[int(block.group(1))] = json.loads(chart.proto.spec)
    return [found[b] for b in sorted(found)]


def assert_maps_of(charts: list[dict], model, img28: np.ndarray) -> None:
    expected = [m[0].astype(np.float32) for m in feature_maps(model, model_input(img28[None]))]
    assert [title(s) for s in charts] == ["convolution 1: 4 × 14 × 14", "convolution 2: 6 × 7 × 7"]
    for spec, maps, shape in zip(charts, expected, SHAPES):
        assert maps.shape == shape
        z = array(spec["data"][0]["z"])
        assert np.allclose(np.nan_to_num(z), np.nan_to_num(tile(maps, grid_shape(shape[0])[1])), atol=1e-6)


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def test_explore_shows_the_selected_image_s_maps_for_a_cnn(cnn, dataset):
    at = open_page("pages/explore.py", "tinycnn")
    at.number_input(key="explore_selected").set_value(17)
    run(at)
    assert_maps_of(maps_charts(at, "explore_maps"), cnn, dataset.test_images[17].numpy())


def test_classify_shows_the_upload_s_maps_for_a_cnn(cnn, dataset):
    at = open_page("pages/classify.py", "tinycnn")
    data = png_bytes(dataset.test_images[5].numpy())
    at.get("file_uploader")[0].set_value(("test5.png", data, "image/png"))
    run(at)
    assert_maps_of(maps_charts(at, "classify_upload_maps"), cnn, prepare_image(data, "test5.png"))
    assert maps_charts(at, "classify_draw_maps") == []  # the untouched canvas: nothing classified, no maps


def test_an_mlp_shows_no_maps(cnn, dataset):
    at = open_page("pages/explore.py", "default")
    assert maps_charts(at, "explore_maps") == [] and at.get("plotly_chart")  # the page's other charts are there
    at = open_page("pages/classify.py", "default")
    at.get("file_uploader")[0].set_value(("test5.png", png_bytes(dataset.test_images[5].numpy()), "image/png"))
    run(at)
    assert maps_charts(at, "classify_upload_maps") == [] and at.get("plotly_chart")
