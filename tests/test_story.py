"""The MLP -> CNN lesson's steps, table rows and words, as plain data (ui/train/story.py)."""

from __future__ import annotations

from fmnist.config import CNN, PRESETS, SEED
from fmnist.model.architecture import parameter_count
from ui.i18n import gettext
from ui.train import share, story


def test_the_steps_are_the_seed_the_cnn_and_a_cnn_that_averages_its_maps():
    assert [(s.key, s.preset) for s in story.STEPS] == [("pixels", "seed"), ("local", "cnn"), ("where", "cnn-gap")]
    gap = PRESETS["cnn-gap"]
    assert gap.head == "gap" and CNN.head == "flatten" and gap.errors() == {}
    assert parameter_count(gap) < parameter_count(CNN) < parameter_count(SEED)
    assert story.step_of(SEED.replace(device="cpu")).key == "pixels"  # the device belongs to the machine
    assert story.step_of(CNN.replace(epochs=1)) is None  # another recipe is not the step's run
    assert all(not any(ch.isdigit() for ch in s.look.replace("3 x 3", "").replace("3 pixels", "").replace("784", ""))
               for s in story.STEPS)  # the texts say where to look; the figures come from the runs


def test_a_row_shows_a_run_s_figures_and_dashes_before():
    figures = story.Figures("run-1", CNN, 61.7, 92.912, None)
    row = story.row(story.STEPS[1], figures, running=False)
    assert row == {"step": "Look locally", "network": "1x28x28-c32p-c64p-flat-128-10", "parameters": "421,866",
                   "seconds": "62 s", "test": "92.91%", "shift": "measuring ..."}
    figures.shift = 61.444
    assert story.row(story.STEPS[1], figures, running=False)["shift"] == "61.44%"
    empty = story.row(story.STEPS[2], None, running=True)
    assert empty["seconds"] == "training ..." and empty["test"] == "–"


def test_the_summary_says_what_the_runs_measured():
    done = {"pixels": story.Figures("a", SEED, 300, 88.1, 40.0), "local": story.Figures("b", CNN, 60, 92.9, 61.4),
            "where": story.Figures("c", PRESETS["cnn-gap"], 70, 90.2, 75.3)}
    ratio = parameter_count(SEED) / parameter_count(CNN)
    assert story.summary(done) == (
        "Highest test accuracy so far: Look locally, 92.90%. Moved by 3 pixels, Where is it? recognises the most: "
        f"75.30%. Look locally has {ratio:.1f} times fewer parameters than Flattened pixels.")
    assert story.summary({}).startswith("No run of the lesson has finished yet")
    assert gettext("Where is it?", "ko") == "어디에 있나?"


def test_the_step_travels_in_the_address_beside_the_settings():
    assert "story" in share.VIEW_PARAMS  # kept in the address, never read as a setting
    config, problems = share.params_to_config({"preset": "cnn-gap", "story": "where"})
    assert config == PRESETS["cnn-gap"] and problems == []
