"""The Network and Health tabs, the unit inspector and Step, driven through Streamlit's AppTest."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
from streamlit.testing.v1 import AppTest

from fmnist.store import checkpoints
from tests.helpers import array, run, specs, tiny_form, title, train_page
from ui.inspect.step_view import SHOWN_KEY, step_arrived


def tiny_run(at: AppTest) -> None:
    tiny_form(at)
    at.button(key="train_start").click()
    run(at)


def wait_step(job, n: int, timeout: float = 60) -> bool:
    """Waits until the paused job has published step n's detail; True when that took longer than the click's run."""
    late, deadline = False, time.monotonic() + timeout
    while (detail := job.snapshot().step_detail) is None or detail.step < n:
        assert time.monotonic() < deadline, f"step {n} not trained {timeout:.0f} s after its click"
        late = True
        time.sleep(0.05)
    return late


def test_a_step_published_after_its_click_is_noticed():
    """A step that came after the Step click's wait (a worker still starting) is one the panel has not drawn."""
    detail = SimpleNamespace(step=3)
    assert step_arrived(SimpleNamespace(status="paused", step_detail=detail), shown=None)
    assert step_arrived(SimpleNamespace(status="paused", step_detail=detail), shown=2)
    assert not step_arrived(SimpleNamespace(status="paused", step_detail=detail), shown=3)
    assert not step_arrived(SimpleNamespace(status="paused", step_detail=None), shown=None)
    assert not step_arrived(SimpleNamespace(status="running", step_detail=detail), shown=2)  # the run's own charts


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_pause_step_step_resume_on_the_train_page(ckpt_dir, started):
    at = train_page()
    run(at)
    tiny_run(at)
    job = started[0]  # held paused by the fixture before its first step
    assert job.snapshot().status == "paused"
    assert "Step trains exactly one mini-batch" in " ".join(str(c.value) for c in at.caption)
    for n in (1, 2):
        at.button(key="train_step").click()
        run(at)
        if wait_step(job, n):  # the click waits 5 s for its step; a busy machine can take longer to start the worker
            run(at)
        snap = job.snapshot()
        assert snap.step == n and snap.status == "paused"  # exactly one step per click
        assert metric(at, "Step") == str(n) and at.session_state[SHOWN_KEY] == n
        assert not step_arrived(snap, at.session_state[SHOWN_KEY])  # drawn: the polling fragment leaves the page be
        assert [s for s, _ in snap.steps] == list(range(1, n + 1))  # each single step is a point on the curve
        # The batch: 24 images (the tiny run's batch is 1,024), each captioned under it, and one count in words.
        assert any(str(c.value).startswith("**The trained batch**: its first 24 of 1,024 images") for c in at.caption)
        assert len(at.get("image")) == 24
        assert any(str(c.value).startswith(f"Step {n}: of the 24 images shown, the first of the batch's 1,024")
                   for c in at.caption)
        change = next(s for s in specs(at) if title(s) == "Incoming weights: after minus before the step")
        detail = snap.step_detail
        unit = int(np.abs(detail.weight_change[0]).sum(1).argmax())
        np.testing.assert_allclose(array(change["data"][0]["z"]).reshape(28, 28),
                                   detail.weight_change[0][unit].reshape(28, 28), rtol=1e-5)
        assert float(metric(at, "Batch loss after")) < float(metric(at, "Batch loss before"))
    at.button(key="train_resume").click()
    run(at)
    assert job.join(120)
    snap = job.snapshot()
    # 60,000 / 1,024: 58 full batches (the seed preset's loader, which the form starts from, drops the partial one).
    assert snap.config.drop_last
    assert snap.status == "done" and snap.step == snap.total_steps == 58  # no step lost or added
    steps = [s for s, _ in snap.steps]
    assert steps[:2] == [1, 2] and steps == sorted(set(steps)) and steps[-1] == 58
    assert snap.checkpoint and (ckpt_dir / f"{snap.checkpoint}.safetensors").exists()


def test_network_and_health_tabs_and_the_unit_inspector(ckpt_dir, started):
    at = train_page()
    run(at)
    tiny_run(at)
    job = started[0]
    job.resume()
    assert job.join(120)
    run(at)
    snap = job.snapshot()
    at.session_state["train_insight_tab"] = "Network"
    run(at)
    diagram = next(s for s in specs(at) if title(s) == "The network after epoch 1")
    names = [t.get("name") for t in diagram["data"] if "markers" in t.get("mode", "")]
    assert names == ["input", "hidden 1", "output"]
    assert not any(title(s) == "Incoming weights" for s in specs(at))

    net = snap.insight[-1]["network"]
    at.selectbox(key="train_net_unit_layer").set_value(1)
    run(at)
    at.selectbox(key="train_net_unit_index").set_value(3)
    run(at)
    unit = int(net["columns"][1]["shown"][3])
    assert f"**Unit {unit} of hidden 1**" in [m.value for m in at.markdown]
    incoming = next(s for s in specs(at) if title(s) == "Incoming weights")
    model = checkpoints.load(ckpt_dir / f"{snap.checkpoint}.safetensors").model()  # what the worker trained
    weights = model.linears[0].weight.detach().numpy()[unit]
    np.testing.assert_allclose(array(incoming["data"][0]["z"]).reshape(28, 28), weights.reshape(28, 28), rtol=1e-5)
    classes = next(s for s in specs(at) if title(s) == "Mean activation per class")
    np.testing.assert_allclose(array(classes["data"][0]["y"]), net["columns"][1]["class_mean"][3], rtol=1e-5)
    assert any(title(s) == "The 9 test images that excite it most" for s in specs(at))

    at.session_state["train_insight_tab"] = "Health"
    run(at)
    table = at.dataframe[-1].value
    assert table["layer"].tolist() == ["hidden 1"]
    assert table["dead"][0] == f"{snap.epochs[-1]['health'][0]['dead']:.0%}"
    assert any(title(s).startswith("hidden 1: weights") for s in specs(at))


def test_the_models_page_shows_any_checkpoints_network(ckpt_dir):
    at = run(train_page())
    at.switch_page("pages/models.py")
    run(at)
    assert any(title(s) == "default: the network" for s in specs(at))
    at.session_state["models_network_tab"] = "Health"
    run(at)
    assert not at.exception
