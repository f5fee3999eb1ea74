"""The Evaluate page's shift and rotation chart (#36 item 5) through AppTest: nothing heavy before the button, then
the active model and a picked checkpoint measured by the server's thread and drawn one line each, the figures the
engine gives for those files."""

from __future__ import annotations

import json

import pytest
import torch

from fmnist.data.dataset import device_tensors
from fmnist.inspect.robustness import measure
from fmnist.store import checkpoints
from tests.helpers import APP, run, wait_for
from ui.inspect.robustness_charts import robustness_summary
from ui.inspect.robustness_jobs import MEASUREMENTS, items


@pytest.fixture
def two_models(ckpt_dir, checkpoint_dir):
    """The tiny default and a second model saved as `cnn`, the shipped name the page offers to compare with first:
    the tiny network with its first layer's weights halved, a different network whose figures the engine computes
    too."""
    ckpt = checkpoints.load(ckpt_dir / "default.safetensors")
    model = ckpt.model()
    with torch.no_grad():
        model[0].weight.mul_(0.5)  # a different network: its answers, and so its figures, move
    checkpoints.CheckpointStore(ckpt_dir).save("cnn", model, ckpt.meta)
    return ckpt_dir


def open_evaluate():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/evaluate.py")
    return run(at)


def chart(at):
    found = [c for c in at.get("plotly_chart") if "evaluate_robust_chart" in str(c.proto.id)]
    return json.loads(found[0].proto.spec) if found else None


def test_the_chart_draws_the_active_model_and_a_picked_one(two_models, dataset):
    at = open_evaluate()
    assert at.multiselect(key="evaluate_robust_models").value == ["cnn"]  # the other shipped model, to start with
    assert chart(at) is None  # nothing measured before the button: the page's first render stays light
    button = at.button(key="evaluate_robust_start")
    assert button.label == "Measure 2 models"
    button.click()
    run(at)
    keys = [(str(p), p.stat().st_mtime) for p in (two_models / "default.safetensors", two_models / "cnn.safetensors")]
    wait_for(lambda: all(MEASUREMENTS.queued(k) == 0 for k in keys), timeout=600, what="the measurements")
    run(at)
    spec = chart(at)
    assert spec is not None
    traces = [(t["name"], t["xaxis"] if "xaxis" in t else "x") for t in spec["data"]]
    assert traces == [("default", "x"), ("default", "x2"), ("cnn", "x"), ("cnn", "x2")]
    _, _, x, y = device_tensors(dataset, "cpu")
    for (name, key), shift, turn in zip([("default", keys[0]), ("cnn", keys[1])], spec["data"][::2],
                                        spec["data"][1::2]):
        assert list(shift["x"]) == [0, 1, 2, 3, 4] and list(turn["x"]) == [0, 5, 10, 15]
        model = checkpoints.load(two_models / f"{name}.safetensors").model()
        expected = measure(model, x, y, shifts=(0, 3), rotations=(15,))
        assert shift["y"][0] == pytest.approx(expected[0].accuracy) == turn["y"][0]
        assert shift["y"][3] == pytest.approx(expected[1].accuracy)
        assert turn["y"][3] == pytest.approx(expected[2].accuracy)
        assert set(MEASUREMENTS.result(key)) == set(items())
    results = {name: MEASUREMENTS.result(key) for name, key in zip(("default", "cnn"), keys)}
    assert robustness_summary(results) in [c.value for c in at.caption]
    assert not any(b.key == "evaluate_robust_start" for b in at.button)  # all measured: nothing left to press


def test_a_model_dropped_from_the_picks_leaves_the_chart(two_models):
    at = open_evaluate()
    at.multiselect(key="evaluate_robust_models").set_value([])
    run(at)
    assert at.button(key="evaluate_robust_start").label == "Measure default"
