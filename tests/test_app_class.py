"""The Class page and a challenge in the app, through Streamlit's AppTest: the teacher creates one behind the admin
password, a student joins by the link with a name, sees the banner, the Train sidebar refuses a setting that breaks a
limit next to its control, the board ranks and escapes names, and test accuracy stays hidden until revealed."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from fmnist.challenge import ChallengeStore, Limits
from fmnist.config import TrainConfig
from tests.helpers import APP, figures

PASSWORD = "teach"


@pytest.fixture
def class_db(ckpt_dir, monkeypatch):
    monkeypatch.setenv("FMNIST_ADMIN_PASSWORD", PASSWORD)
    s = ChallengeStore()  # the default: challenges.db in this test's checkpoints folder
    yield s
    s.close()


def page(query: dict | None = None, switch: str = "pages/class.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if switch:
        at.switch_page(switch)
        at.run()
    assert not at.exception, at.exception
    return at


def texts(at) -> str:
    return " | ".join(str(e.value) for kind in ("info", "warning", "error", "success", "caption", "markdown")
                      for e in at.get(kind))


def test_a_teacher_creates_a_challenge_behind_the_password(class_db):
    at = page()
    assert not [b for b in at.button if b.key == "class_create"]  # no password typed: no form
    at.sidebar.text_input(key="owner_admin_typed").set_value(PASSWORD).run()
    at.text_input(key="class_title").set_value("Small nets")
    at.text_area(key="class_task").set_value("Beat 85% with few weights")
    at.number_input(key="class_max_params").set_value(30_000)
    at.button(key="class_create").click().run()
    assert not at.exception, at.exception
    cid = at.session_state["class_challenge"]
    made = class_db.get(cid)
    assert made.title == "Small nets" and made.limits.max_params == 30_000
    assert f"?challenge={cid}" in " ".join(str(c.value) for c in at.code)


def test_a_student_joins_sees_the_banner_and_the_sidebar_refuses_a_broken_limit(class_db):
    c = class_db.create("Small nets", "Beat 85%", Limits(max_params=30_000, max_epochs=2))
    class_db.join(c.id, "Ada", "someone-else")
    at = page({"challenge": c.id})
    assert "Small nets" in texts(at) and "at most 30,000 parameters" in texts(at)
    at.text_input(key="class_name_typed").set_value("  ada ")  # taken, whatever the case
    at.button(key="class_join").click().run()
    assert "taken" in texts(at)
    at.text_input(key="class_name_typed").set_value("  Bo  ")
    at.button(key="class_join").click().run()
    assert "You take part as **Bo**" in texts(at)
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert "Small nets" in texts(at)  # the banner on every page
    at.number_input(key="cfg_layers").set_value(1)
    at.number_input(key="cfg_w0").set_value(64).run()
    errors = " | ".join(e.value for e in at.sidebar.error)
    assert "the challenge allows at most 30,000" in errors and "validation images" in errors
    assert "at most 2 epochs" in errors
    assert at.button(key="train_start").disabled
    assert not [e for e in at.sidebar.expander if "Share as lesson" in str(e.label)]  # a student makes no lesson
    at.number_input(key="cfg_w0").set_value(32)
    at.number_input(key="cfg_epochs").set_value(2)
    at.number_input(key="cfg_val_size").set_value(5000).run()
    assert not at.sidebar.error, [e.value for e in at.sidebar.error]
    assert not at.button(key="train_start").disabled


def test_the_board_ranks_escapes_names_and_hides_test_until_revealed(class_db):
    c = class_db.create("Class")
    class_db.enter(c.id, "<b>Ada</b>", "s1", figures(85.0, 84.0))
    class_db.enter(c.id, "<b>Ada</b>", "s1", figures(88.0, 85.5))
    class_db.enter(c.id, "Bo", "s2", figures(87.0, 87.5))
    at = page({"challenge": c.id})
    table = at.dataframe[0].value
    assert list(table["name"]) == ["<b>Ada</b>", "Bo"]  # as typed: a dataframe shows text, never HTML
    assert list(table["validation accuracy"]) == [88.0, 87.0] and "test accuracy" not in table.columns
    assert "<b>Ada</b>" not in " ".join(str(m.value) for m in at.markdown)  # never written into Markdown
    class_db.reveal(c.id, PASSWORD)
    at.run()
    table = at.dataframe[0].value
    assert list(table["test accuracy"]) == [85.5, 87.5] and list(table["moved"]) == [-1, 1]


def test_open_these_settings_loads_a_board_run_into_the_sidebar(class_db):
    c = class_db.create("Class")
    shown = TrainConfig(hidden=(48, 24), optimizer="adam", lr=0.003, epochs=2, val_size=5000, val_seed=37)
    class_db.enter(c.id, "Ada", "s1", {**figures(85.0, 84.0), "config": shown.to_dict()})
    at = page({"challenge": c.id})
    at.button(key="class_open").click().run()
    assert not at.exception, at.exception
    assert at.session_state["cfg_w0"] == 48 and at.session_state["cfg_w1"] == 24
    assert at.session_state["cfg_optimizer"] == "adam" and at.session_state["cfg_val_size"] == 5000


def test_the_teachers_controls_need_the_password(class_db):
    c = class_db.create("Class")
    class_db.enter(c.id, "Ada", "s1", figures(85.0, 84.0))
    at = page({"challenge": c.id})
    assert not [b for b in at.button if b.key in ("class_reveal", "class_close", "class_clear")]
    at.sidebar.text_input(key="owner_admin_typed").set_value(PASSWORD).run()
    at.button(key="class_reveal").click().run()
    assert not at.exception, at.exception
    assert class_db.get(c.id).revealed
