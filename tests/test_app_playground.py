"""The Playground page driven through Streamlit's AppTest: controls, the story's buttons, Play/Pause/Step/Reset,
bad input refused next to its control, and a link's parameters restoring the setup. The live redraw (a timer) is
covered by tests/browser/test_playground.py."""

from __future__ import annotations

import json
import re

import numpy as np
from streamlit.testing.v1 import AppTest

from fmnist.playground import LESSONS, Playground, Setup
from tests.helpers import APP, array, two_unit_seeds
from ui.playground.controls import widget_values


def open_page(query: dict | None = None) -> AppTest:
    """The app's root, which is the Playground. (AppTest's switch_page to the default page runs each later run
    twice, which a test counting steps would see.)"""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def run(changed) -> AppTest:
    """Runs the page after a widget change (a widget's run() reruns its app)."""
    at = changed.run()
    assert not at.exception, at.exception
    return at


def status(at: AppTest) -> str:
    [line] = [m.value for m in at.markdown if m.value.startswith("Step **")]
    return line


def step_of(at: AppTest) -> int:
    return int(re.match(r"Step \*\*([\d,]+)\*\*", status(at)).group(1).replace(",", ""))


def figures(at: AppTest) -> dict[str, dict]:
    return {key: json.loads(el.proto.spec)
            for key, el in zip(("surface", "loss", "network"), at.get("plotly_chart"))}


def surface(at: AppTest) -> np.ndarray:
    return array(figures(at)["surface"]["data"][0]["z"])


def controls(at: AppTest) -> dict:
    keys = ("dataset", "activation")
    values = {k: at.selectbox(key=k).value for k in keys}
    values.update({k: at.number_input(key=k).value for k in ("points", "noise", "train_fraction", "seed",
                                                             "batch_size", "l1", "l2")})
    values.update(lr=at.select_slider(key="lr").value, features=list(at.multiselect(key="features").value),
                  hidden=at.text_input(key="hidden").value)
    return values


def test_the_root_opens_the_playground_and_a_train_link_to_the_root_opens_train(ckpt_dir):
    at = AppTest.from_file(APP, default_timeout=60)  # the app's address, no page named: the tutorial's start
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Playground") and "pg_play" in [b.key for b in at.button]
    assert at.query_params.get("dataset") is None  # nothing written for a default setup

    at = AppTest.from_file(APP, default_timeout=60)  # a Train link from before: /?optimizer=adam&lock=lr
    at.query_params.update(optimizer="adam", lr="0.003", lock="lr")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cfg_optimizer").value == "adam" and at.select_slider(key="cfg_lr").disabled

    at = AppTest.from_file(APP, default_timeout=60)  # a lesson step's link from before: /?story=where
    at.query_params.update(story="where")
    at.run()
    assert not at.exception, at.exception
    assert "story_where" in [b.key for b in at.button]

    at = AppTest.from_file(APP, default_timeout=60)  # lr and hidden are the Playground's too: it stays
    at.query_params.update(hidden="8,8", lr="0.1")
    at.run()
    assert at.text_input(key="hidden").value == "8,8"


def test_page_opens_on_the_default_setup_at_step_0(ckpt_dir):
    at = open_page()
    assert at.title[0].value.startswith("Playground")
    assert controls(at) == widget_values(Setup())
    assert step_of(at) == 0 and not at.sidebar.error
    assert [b.label for b in at.button][:3] == [f"{i + 1}. {lesson.title}" for i, lesson in enumerate(LESSONS.values())]
    figs = figures(at)
    expected = Playground(Setup())
    np.testing.assert_allclose(surface(at), np.round(expected.grid().output, 3))
    assert len(figs["network"]["layout"]["images"]) == 1  # the thumbnails' sheet
    assert len(array(figs["network"]["data"][-1]["x"])) == 2 * 2 + 2  # one hover point per weight
    assert any(m.value.startswith("**xor, 2 → 2 → 1 tanh**") for m in at.markdown)


def test_step_trains_one_batch_and_reset_returns_to_the_first_weights(ckpt_dir):
    at = open_page()
    first = surface(at)
    run(at.button(key="pg_step").click())
    assert step_of(at) == 1 and not np.array_equal(surface(at), first)
    pg = Playground(Setup())
    pg.step()
    assert f"training loss **{pg.metrics().train_loss:.3f}**" in status(at)
    run(at.button(key="pg_reset").click())
    assert step_of(at) == 0
    np.testing.assert_array_equal(surface(at), first)


def test_play_trains_each_redraw_and_pause_stops(ckpt_dir):
    at = open_page()
    run(at.select_slider(key="pg_speed").set_value(5))
    run(at.button(key="pg_play").click())
    assert step_of(at) == 5  # this run's redraw already trained: the timer repeats it while playing
    assert at.button(key="pg_play").disabled and not at.button(key="pg_pause").disabled
    run(at.button(key="pg_pause").click())
    assert step_of(at) == 5 and not at.button(key="pg_play").disabled and at.button(key="pg_pause").disabled
    assert len(figures(at)["loss"]["data"][0]["x"]) == 2  # the loss curve: step 0 and step 5


def test_a_stuck_run_is_told_and_a_solved_one_is_not(ckpt_dir):
    for want_stuck in (True, False):
        seed, _ = two_unit_seeds(want_stuck)
        at = open_page({"seed": str(seed)})
        assert not at.warning
        pg, history = Playground(Setup(seed=seed)), []
        for ev in pg.steps():  # as the page's Play does at 50 steps a redraw
            if ev.step % 50 == 0:
                history.append(pg.metrics())
            if ev.step == 2000:
                break
        at.session_state["pg_engine"], at.session_state["pg_history"] = pg, history
        at = run(at)
        assert step_of(at) == 2000
        said = [w.value for w in at.warning]
        assert said == (["Stuck in a local minimum: the two units split the plane so that one cluster stays on the "
                         "wrong side; another seed draws new starting weights, and with 3 or more units this rarely "
                         "happens"] if want_stuck else [])


def test_training_settings_apply_without_starting_over(ckpt_dir):
    at = open_page()
    run(at.button(key="pg_step").click())
    run(at.select_slider(key="lr").set_value(0.1))
    assert step_of(at) == 1  # the same network, trained on with the new rate
    run(at.selectbox(key="activation").set_value("relu"))
    assert step_of(at) == 0  # a different network starts over


def test_story_buttons_set_the_controls_and_explain(ckpt_dir):
    at = open_page()
    run(at.number_input(key="noise").set_value(0.3))  # something each lesson must undo
    for key, lesson in LESSONS.items():
        run(at.button(key=f"pg_lesson_{key}").click())
        assert controls(at) == widget_values(lesson.setup), key
        [info] = at.info
        assert info.value.startswith(f"**{lesson.title}.**")
        assert len(re.findall(r"[.!?](\s|$)", lesson.why)) == 2  # the issue asks for two sentences
        assert at.button(key="pg_play").disabled and step_of(at) > 0  # it trains at once
        # The story's last step leads on to the Train page with the tutorial's preset; the others do not yet.
        links = [(link.proto.page, link.proto.query_string) for link in at.get("page_link")]
        assert links == ([("train", "preset=seed")] if key == list(LESSONS)[-1] else []), (key, links)
        # Playing, the map and the network are images (redrawn in place); the loss curve stays a Plotly chart.
        assert len(at.get("image")) == 2 and len(at.get("plotly_chart")) == 1
        run(at.button(key="pg_pause").click())
        sizes = (2, *lesson.setup.hidden, 1)
        weights = array(figures(at)["network"]["data"][-1]["x"])
        assert len(weights) == sum(a * b for a, b in zip(sizes, sizes[1:]))


BAD = [("hidden", "9", "each layer needs 1 to 8 units (got 9)"),
       ("hidden", "2,2,2,2,2,2,2", "use 0 to 6 hidden layers (got 7)"),
       ("hidden", "8,x", "give the units of each layer as whole numbers"),
       ("noise", -0.5, "noise must be between 0 and 1"),
       ("points", 0, "use 20 to 2000 points (got 0)")]


def test_impossible_settings_are_refused_next_to_their_control(ckpt_dir):
    at = open_page()
    def widget(key):
        return at.text_input(key=key) if key == "hidden" else at.number_input(key=key)

    for key, value, message in BAD:
        run(widget(key).set_value(value))
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1 and message in errors[0], (key, errors)
        assert at.warning and not at.get("plotly_chart") and "pg_play" not in [b.key for b in at.button]
        run(widget(key).set_value(widget_values(Setup())[key]))
        assert not at.sidebar.error and step_of(at) == 0
    run(at.multiselect(key="features").set_value([]))
    assert "choose at least one input feature" in at.sidebar.error[0].value


def test_link_parameters_restore_the_setup(ckpt_dir):
    query = {"dataset": "spirals", "hidden": "8,8,8", "lr": "0.1",
             "noise": "0.1", "features": ["x1", "x2", "sin x1"], "seed": "3"}
    at = open_page(query)
    want = LESSONS["depth"].setup.replace(noise=0.1, features=("x1", "x2", "sin x1"), seed=3)
    assert controls(at) == widget_values(want)
    assert any(m.value.startswith("**spirals, 3 → 8 → 8 → 8 → 1 tanh**") for m in at.markdown)
    np.testing.assert_allclose(surface(at), np.round(Playground(want).grid().output, 3))


def test_a_link_with_bad_values_is_refused_not_thrown(ckpt_dir):
    at = open_page({"points": "-3", "dataset": "moons"})
    assert at.selectbox(key="dataset").value == "xor"  # an unknown dataset is dropped
    assert "use 20 to 2000 points (got -3)" in at.sidebar.error[0].value
    assert any("dataset=moons" in w.value and "xor" in w.value for w in at.warning)  # named, not dropped silently


def test_the_address_holds_keys_in_every_language(ckpt_dir):
    at = open_page({"dataset": "spirals", "activation": "linear", "lang": "ko"})  # a key opens in Korean
    assert at.selectbox(key="dataset").value == "spirals" and at.selectbox(key="activation").value == "linear"
    assert not at.warning
    run(at.selectbox(key="dataset").select_index(1))  # circles, shown by its Korean label
    assert at.query_params["dataset"] == "circles"  # the key, not the Korean label
    run(at.button(key="pg_lesson_depth").click())
    assert at.query_params["dataset"] == "spirals" and "activation" not in at.query_params  # tanh: the default
    old = open_page({"dataset": "나선", "lang": "en"})  # a link written by the Korean page before keys
    assert old.selectbox(key="dataset").value == "spirals" and not old.warning
