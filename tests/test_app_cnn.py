"""A CNN on the Train page (AppTest, real worker processes): the cnn preset fills the Convolution section, the summary
gives each block's shapes, bad convolution settings are refused next to their control, and a tiny CNN trains in the
app's worker with the views that describe an MLP saying so instead of failing."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fmnist.config import CNN
from tests.helpers import APP, run, texts

TINY_CNN_LINK = {"conv": "4", "hidden": "16", "optimizer": "adam", "lr": "0.003", "batch_size": "512", "epochs": "1",
                 "device": "cpu", "drop_last": "false", "eval_train": "false"}


def test_the_cnn_preset_fills_the_convolution_section_and_the_summary(ckpt_dir):
    at = run(AppTest.from_file(APP, default_timeout=60))
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
    at = run(AppTest.from_file(APP, default_timeout=60))
    at.selectbox(key="cfg_head").set_value("gap")
    run(at)
    assert "global average pooling needs at least one convolution block" in texts(at.error)
    assert at.button(key="train_start").disabled


def test_a_tiny_cnn_trains_in_the_worker_and_the_mlp_views_say_why_they_are_empty(ckpt_dir, started):
    at = AppTest.from_file(APP, default_timeout=60)
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
    assert snap.insight and snap.insight[-1]["filters"] is None and snap.insight[-1]["network"] is None
    for tab, said in (("First layer", "This network starts with convolution blocks"),
                      ("Network", "a network with convolution blocks is not drawn here")):
        at.session_state["train_insight_tab"] = tab
        run(at)
        assert said in texts(at.info), tab
