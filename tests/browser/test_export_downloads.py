"""The Models page's export downloads, clicked in a real browser: each file arrives under the checkpoint's name and
is what it claims to be (a script that compiles, weights torch.load reads safely, an ONNX model onnxruntime runs,
a torch.export program), and the two model files give the checkpoint's own predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from fmnist.data.dataset import CLASSES, normalize
from fmnist.store import checkpoints
from tests.browser.conftest import assert_no_exception, goto

EXPORT_TIMEOUT_MS = 180_000  # the first ONNX export imports the exporter and traces the model on a busy machine
KINDS = {"script": "default.py", "weights": "default.pt", "onnx": "default.onnx", "pt2": "default.pt2"}


@pytest.fixture(scope="module")
def expected(default_checkpoint, dataset):
    """The default model's probabilities for the first 100 test images, and those images as pixels in [0, 1]."""
    images = dataset.test_images[:100]
    with torch.no_grad():
        probs = torch.softmax(checkpoints.load(default_checkpoint).model()(normalize(images)), 1).numpy()
    return (images.float() / 255)[:, None], probs


def test_models_page_downloads_each_format(page: Page, server, tmp_path, expected, default_checkpoint):
    goto(page, server.page_url("Models"))
    expect(page.get_by_text("Netron")).to_be_visible()  # the sentence on what the ONNX file is for
    files = {}
    for kind, name in KINDS.items():
        button = page.locator(f".st-key-models_export_{kind} button").first  # help= draws a hidden second copy
        button.scroll_into_view_if_needed()
        with page.expect_download(timeout=EXPORT_TIMEOUT_MS) as info:
            button.click()
        download = info.value
        assert download.suggested_filename == name
        files[kind] = tmp_path / name
        download.save_as(files[kind])
        assert_no_exception(page)

    text = files["script"].read_text()
    assert text.startswith("# Exported by fmnist") and "def main():" in text
    compile(text, name, "exec")
    state = torch.load(files["weights"], weights_only=True)
    ckpt = checkpoints.load(default_checkpoint)
    assert all(torch.equal(state[f"layers.{k}"], v) for k, v in ckpt.state.items())

    pixels, probs = expected
    import onnx
    import onnxruntime as ort

    props = {p.key: p.value for p in onnx.load(str(files["onnx"])).metadata_props}
    assert json.loads(props["classes"]) == list(CLASSES)
    got = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"]).run(
        None, {"image": pixels.numpy()})[0]
    assert np.abs(got - probs).max() <= 1e-5
    with torch.no_grad():
        got = torch.export.load(files["pt2"]).module()(pixels).numpy()
    assert np.abs(got - probs).max() <= 1e-5
