"""A CNN on the Train page (AppTest, real worker processes): the cnn preset fills the Convolution section, the summary
gives each block's shapes, bad convolution settings are refused next to their control, and a tiny CNN trains in the
app's worker and shows its filters, feature maps, blocks and a channel's inspector."""

from __future__ import annotations

import shutil

import numpy as np
from streamlit.testing.v1 import AppTest

from fmnist.config import CNN
from fmnist.store import checkpoints
from tests.helpers import APP, ROOT, array, run, specs, texts, title, train_page

TINY_CNN_LINK = {"conv": "4", "hidden": "16", "optimizer": "adam", "lr": "0.003", "batch_size": "512", "epochs": "1",
                 "device": "cpu", "drop_last": "false", "eval_train": "false"}


def test_the_cnn_preset_fills_the_convolution_section_and_the_summary(ckpt_dir):
    at = run(train_page())
    assert at.number_input(key="cfg_blocks").value == 0  # the seed preset: the notebook's MLP
    at.selectbox(key="cfg_preset").set_value("cnn")
    run(at)
    assert [at.number_input(key=f"cfg_c{i}").value for i in range(2)] == list(CNN.conv)
    assert (at.selectbox(key="cfg_kernel").value, at.selectbox(key="cfg_pool").value,
            at.selectbox(key="cfg_head").value) == (3, "max", "flatten")
    page = texts(at.markdown)
    assert "1x28x28 → 32x28x28" in page and "32x14x14" in page and "64x7x7 → 3136" in page
    assert at.button(key="train_start").disabled is False


def test_a_bad_convolution_setting_is_refused_next_to_its_control(ckpt_dir):
    at = run(train_page())
    at.selectbox(key="cfg_head").set_value("gap")
    run(at)
    assert "global average pooling needs at least one convolution block" in texts(at.error)
    assert at.button(key="train_start").disabled


def test_a_tiny_cnn_trains_in_the_worker_and_shows_its_filters_maps_and_blocks(ckpt_dir, started):
    at = train_page()
    at.query_params.update(TINY_CNN_LINK)
    run(at)
    at.button(key="train_start").click()
    run(at)
    job = started[0]
    job.resume()
    assert job.join(300), "the tiny CNN did not finish"
    run(at)
    snap = job.snapshot()
    assert snap.status == "done" and len(snap.epochs) == 1 and snap.epochs[0]["test_acc"] > 60
    views = snap.insight[-1]["conv"]
    assert snap.insight[-1]["filters"] is None  # an MLP's 28 x 28 first-layer images
    assert [k.shape for k in views["kernels"]] == [(4, 3, 3)] and [m.shape for m in views["maps"]] == [(10, 4, 14, 14)]
    assert [b["shape"] for b in snap.insight[-1]["network"]["blocks"]] == [(4, 14, 14)]
    assert [h["name"] for h in snap.epochs[0]["health"]] == ["conv 1", "hidden 1"]
    at.session_state["train_insight_tab"] = "Filters"
    run(at)
    (kernels,) = [s for s in specs(at) if title(s) == "convolution 1: 4 kernels"]
    z = array(kernels["data"][0]["z"])
    assert z.shape == (7, 7) and np.allclose(np.nan_to_num(z[:3, :3]), views["kernels"][0][0], atol=1e-6)
    at.session_state["train_insight_tab"] = "Feature maps"
    run(at)
    assert "convolution 1: 4 × 14 × 14" in [title(s) for s in specs(at)]
    assert len(at.selectbox(key="train_maps_image").options) == 10
    at.session_state["train_insight_tab"] = "Network"
    run(at)
    assert "Convolution blocks: the maps each block hands on" in [title(s) for s in specs(at)]
    at.selectbox(key="train_net_channel_block").set_value(0)
    run(at)
    assert "Channel 0 of convolution 1" in texts(at.markdown)
    assert "The 9 test images that excite it most" in [title(s) for s in specs(at)]


def test_models_shows_a_cnn_checkpoint_s_kernels_and_blocks(ckpt_dir):
    shutil.copy(ROOT / "checkpoints" / "cnn.safetensors", ckpt_dir)
    at = run(AppTest.from_file(APP, default_timeout=120))
    at.switch_page("pages/models.py")
    run(at)
    at.selectbox(key="models_pick").set_value("cnn")
    run(at)
    (chart,) = [s for s in specs(at) if title(s) == "cnn, convolution 1: 32 kernels"]
    weights = checkpoints.load(ckpt_dir / "cnn.safetensors").model().convolutions[0].weight.detach().float().numpy()
    z = array(chart["data"][0]["z"])
    assert np.allclose(z[:3, :3], weights[0, 0], atol=1e-6)  # the first tile is channel 0's kernel
    at.selectbox(key="models_filters_block").set_value(1)
    run(at)
    assert "cnn, convolution 2: 64 kernels" in [title(s) for s in specs(at)]
    assert "Convolution blocks: the maps each block hands on" in [title(s) for s in specs(at)]
