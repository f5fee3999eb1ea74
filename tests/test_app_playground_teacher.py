"""The Playground's teacher mode through AppTest: ?lock= shows a setting disabled at the link's value, which a story
button leaves alone; ?hide= leaves its control out while the link's value still trains; a name the Playground does not
have gets Train's notice; and the root tells a Playground lesson link from an older Train one."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from fmnist.playground import LESSONS
from tests.helpers import APP, run_in_korean
from ui.playground.teacher import NAMES
from ui.router import for_train

LOCK_NOTE = ":material/lock: Set by your teacher"


def open_page(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Playground")
    return at


def setup(at: AppTest):
    return at.session_state["pg_engine"].setup  # what the page trains


def keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("selectbox", "number_input", "multiselect", "text_input", "select_slider")
            for w in at.sidebar.get(kind)}


def test_a_locked_setting_is_disabled_at_the_link_s_value_and_a_story_button_keeps_it(ckpt_dir):
    at = open_page(dataset="circles", lr="0.1", lock="dataset,lr")
    assert at.selectbox(key="dataset").disabled and at.selectbox(key="dataset").value == "circles"
    assert at.select_slider(key="lr").disabled and at.select_slider(key="lr").value == 0.1
    assert [c.value for c in at.sidebar.caption].count(LOCK_NOTE) == 2
    assert not at.number_input(key="points").disabled and not at.text_input(key="hidden").disabled
    assert (setup(at).dataset, setup(at).lr) == ("circles", 0.1)

    at.button(key="pg_lesson_depth").click().run()  # spirals at lr 0.1 with 8,8,8: only the layers may follow
    assert not at.exception, at.exception
    assert at.selectbox(key="dataset").value == "circles" and at.select_slider(key="lr").value == 0.1
    assert setup(at).hidden == LESSONS["depth"].setup.hidden and setup(at).dataset == "circles"
    assert at.query_params["lock"] in ("dataset,lr", ["dataset,lr"])  # still in the address


def test_a_hidden_setting_has_no_control_and_the_link_s_value_still_trains(ckpt_dir):
    at = open_page(noise="0.2", l1="0.001", hide="noise,l1,l2")
    assert {"noise", "l1", "l2"}.isdisjoint(keys(at)) and "points" in keys(at)
    assert (setup(at).noise, setup(at).l1, setup(at).l2) == (0.2, 0.001, 0.0)
    at.button(key="pg_step").click().run()
    assert not at.exception, at.exception
    assert {"noise", "l1", "l2"}.isdisjoint(keys(at)) and setup(at).noise == 0.2

    at = open_page(noise="-1", hide="noise")  # refused as a shown one would be, named as its control is not there
    assert any(e.value.startswith("Noise: noise must be between 0 and") for e in at.sidebar.error)


def test_a_name_the_playground_does_not_have_gets_train_s_notice(ckpt_dir):
    at = open_page(lock="colour", hide="depth")
    [notice] = [w.value for w in at.warning if w.value.startswith("Ignored from the link:")]
    assert "lock=colour: unknown setting" in notice and "hide=depth: unknown setting" in notice
    assert set(NAMES) <= keys(at)  # every control there, none disabled
    assert not any(w.disabled for kind in ("selectbox", "number_input", "select_slider", "text_input", "multiselect")
                   for w in at.sidebar.get(kind))


def test_the_names_are_the_playground_s_url_settings_and_the_root_tells_whose_link_it_is():
    assert NAMES == ("dataset", "points", "noise", "train_fraction", "seed", "features", "hidden", "activation", "lr",
                     "batch_size", "l1", "l2")
    assert not for_train({"lock": "lr,dataset", "hide": "l1"})  # the Playground's names (lr is both pages')
    assert for_train({"lr": "0.003", "lock": "lr", "hide": "optimizer"})  # a Train lesson link from before
    assert for_train({"lock": ["hidden", "epochs"]}) and not for_train({"lock": "colour"})


def test_the_lock_note_and_the_notice_read_in_korean(ckpt_dir):
    at = run_in_korean("pages/playground.py", lock="lr", hide="colour")
    assert at.select_slider(key="lr").disabled
    assert ":material/lock: 선생님이 정한 설정입니다" in [c.value for c in at.sidebar.caption]
    assert any(w.value.startswith("링크에서 쓰지 않은 설정:") and "hide=colour: 알 수 없는 설정입니다" in w.value
               for w in at.warning)
