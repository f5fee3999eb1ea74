"""The Train page's lesson from MLP to CNN (#36 item 6) through AppTest and the app's real workers: each step's button
fills the sidebar with its preset and starts that run, a link opens the lesson at its step, and the table shows the
figures the runs themselves measured (tiny stand-ins for the presets, so the test trains in seconds)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from fmnist.config import PRESETS
from fmnist.data.dataset import device_tensors
from fmnist.inspect.robustness import measure
from fmnist.model.architecture import parameter_count
from fmnist.store import checkpoints
from tests.helpers import TINY, TINY_CNN, run, texts, train_page, wait_for
from ui.inspect.robustness_jobs import MEASUREMENTS
from ui.train import story


def open_train(**query) -> AppTest:
    at = train_page(timeout=120)
    at.query_params.update(query)
    return run(at)


def table(at) -> list[dict]:
    """The lesson's Markdown table as rows keyed like ui.train.story.row's."""
    text = next(m.value for m in at.markdown if m.value.startswith("| Step | Network |"))
    keys = ("step", "network", "parameters", "seconds", "test", "shift")
    return [dict(zip(keys, (cell.strip() for cell in line.strip("|").split(" | ")))) for line in text.splitlines()[2:]]


def test_each_step_fills_the_sidebar_with_its_preset_and_starts_it(ckpt_dir, started):
    at = open_train()
    for step in story.STEPS:
        at.button(key=f"story_{step.key}").click()
        run(at)
        assert at.session_state["cfg_preset"] == step.preset
        assert at.query_params["story"] in (step.key, [step.key])
        job = started[-1]
        assert job.config == PRESETS[step.preset]  # the preset exactly (the device is the preset's too: auto)
        assert f"**{story.heading(step)}** {step.look}" in texts(at.info)
        assert at.button(key="story_pixels").disabled  # one run at a time, as Start
        job.stop()
        assert job.join(120)
        run(at)
    assert len(started) == 3


def test_a_link_opens_the_lesson_at_its_step(ckpt_dir):
    at = open_train(preset="cnn-gap", story="where")
    assert at.session_state["cfg_preset"] == "cnn-gap" and at.selectbox(key="cfg_head").value == "gap"
    assert "**Where is it?** The last maps are averaged" in texts(at.info)
    links = [c.value for c in at.caption if "A link to this step" in c.value]
    assert links and "preset=cnn-gap" in links[0] and "story=where" in links[0]


@pytest.fixture
def tiny_steps(monkeypatch):
    """The three presets as tiny runs of the same kinds: an MLP, a CNN that flattens, a CNN that averages."""
    for name, config in (("seed", TINY), ("cnn", TINY_CNN), ("cnn-gap", TINY_CNN.replace(head="gap"))):
        monkeypatch.setitem(PRESETS, name, config.replace(preset=name))


def test_the_table_shows_the_runs_own_figures(ckpt_dir, started, tiny_steps, dataset):
    at = open_train()
    _, _, x, y = device_tensors(dataset, "cpu")
    for key in ("pixels", "where"):
        at.button(key=f"story_{key}").click()
        run(at)
        job = started[-1]
        job.resume()
        assert job.join(300), "the tiny run did not finish"
        run(at)
        snap = job.snapshot()
        row = table(at)[[s.key for s in story.STEPS].index(key)]
        assert row["parameters"] == f"{parameter_count(snap.config):,}"
        assert row["seconds"] == f"{snap.elapsed_s:.0f} s" and row["test"] == f"{snap.test_acc:.2f}%"
        path = ckpt_dir / f"{snap.checkpoint}.safetensors"
        file = (str(path), path.stat().st_mtime)
        wait_for(lambda file=file: MEASUREMENTS.queued(file) == 0, timeout=300, what="the 3-pixel shift")
        run(at)
        row = table(at)[[s.key for s in story.STEPS].index(key)]
        shifted = measure(checkpoints.load(path).model(), x, y, shifts=(3,), rotations=())[0].accuracy
        assert row["shift"] == f"{shifted:.2f}%"
    rows = table(at)
    assert rows[1]["test"] == "–" and rows[1]["shift"] == "–"  # "Look locally" was not run
    caption = texts(at.caption)
    assert "Highest test accuracy so far:" in caption and "Moved by 3 pixels," in caption
