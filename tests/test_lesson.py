"""Teacher mode (ui/train/lesson.py, pure; the sidebar through AppTest): a link locks or hides settings, "Share as
lesson"
builds one; and the sidebar's engine messages all read in Korean."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from fmnist.config import BEST, MAX_EPOCHS, MAX_LAYERS, MAX_WIDTH, SEED, TRAIN_SIZE, TrainConfig
from fmnist.config.settings import SETTINGS
from fmnist.model.devices import CUDA_MISSING, MPS_MISSING
from tests.helpers import run, train_page
from ui.i18n import engine
from ui.train import lesson, share
from ui.train.sidebar import HELP, LABELS, memory_text

HANGUL = re.compile("[가-힣]")


def app(**params) -> AppTest:
    at = train_page()
    at.query_params.update(params)
    at.context["url"] = "http://localhost:8501/train"  # what a browser on the Train page has
    return run(at)


def sidebar_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("selectbox", "select_slider", "number_input", "toggle", "multiselect")
            for w in at.sidebar.get(kind)}


def captions(at: AppTest) -> str:
    return " | ".join(str(c.value) for c in at.sidebar.caption)


# ui/train/lesson.py

def test_every_setting_can_be_locked_or_hidden_and_has_a_label_and_help():
    assert set(lesson.NAMES) == {*share.FIELDS, "preset"} == set(LABELS)
    assert set(HELP) == set(LABELS)  # the list items' own help (a layer's width, a block's channels) is LISTS's


def test_lock_and_hide_are_read_and_unknown_names_reported():
    found, problems = lesson.parse({"lock": "lr, hidden,,bogus", "hide": ["optimizer,schedule"], "lr": "0.1"})
    assert found == lesson.Lesson(frozenset({"lr", "hidden"}), frozenset({"optimizer", "schedule"}))
    assert problems == ["lock=bogus: unknown setting"]
    assert lesson.parse({"lr": "0.1"}) == (lesson.Lesson(), [])
    assert not lesson.Lesson() and lesson.Lesson(hidden=frozenset({"seed"}))


def test_lesson_params_keep_the_sidebar_order_and_the_language():
    assert lesson.Lesson(frozenset({"lr", "hidden"}), frozenset({"schedule", "optimizer"})).to_params() == {
        "lock": "hidden,lr", "hide": "optimizer,schedule"}
    params = lesson.lesson_params({"lr": "0.003"}, ["lr"], [], {"lang": "ko", "lock": "epochs"})
    assert params == {"lr": "0.003", "lock": "lr", "lang": "ko"}
    assert share.query_string(params) == "lr=0.003&lock=lr&lang=ko"


def test_lock_and_hide_are_never_read_as_settings():
    assert {"lock", "hide", "lang"} <= set(share.VIEW_PARAMS)
    assert share.params_to_config({"lock": "lr", "hide": "seed", "epochs": "3"}) == (
        SEED.replace(epochs=3, preset="custom"), [])
    assert share.view_params({"lock": "lr", "hide": "seed", "epochs": "3"}) == {"lock": "lr", "hide": "seed"}


# Engine messages shown in the sidebar: each has a Korean template.

def invalid_configs() -> list[TrainConfig]:
    base = SEED
    return [
        base.replace(hidden=(64, 1.5)),
        base.replace(hidden=(64,) * (MAX_LAYERS + 1)),
        base.replace(hidden=(64, MAX_WIDTH + 1)),
        base.replace(activation="swish"),
        base.replace(optimizer="rmsprop"),
        base.replace(schedule="step"),
        base.replace(device="tpu"),
        base.replace(precision="fp16"),
        base.replace(dropout=1.0),
        base.replace(lr=0.0),
        base.replace(weight_decay=2.0),
        base.replace(label_smoothing=1.0),
        base.replace(ema=0.3),
        base.replace(val_size=TRAIN_SIZE),
        base.replace(batch_size=0),
        base.replace(batch_size=TRAIN_SIZE, val_size=5000),
        base.replace(batch_norm=True, batch_size=1),
        base.replace(epochs=MAX_EPOCHS + 1),
        base.replace(seed=-1),
        base.replace(batch_norm="yes"),
        base.replace(augment=1),
        base.replace(flip=None),
        base.replace(warp="on"),
        base.replace(drop_last="no"),
        base.replace(eval_train=0),
        base.replace(keep_best="on"),
        base.replace(keep_best=True, val_size=0),
        base.replace(conv=(8, 1.5)),
        base.replace(conv=(8,) * 5),
        base.replace(conv=(8, 300)),
        base.replace(conv=(8,), kernel=4),
        base.replace(conv=(8,), pool="min"),
        base.replace(conv=(8,), head="mean"),
        base.replace(head="gap"),
        base.replace(conv=(8,), hidden=(8,) * (MAX_LAYERS + 1)),
        base.replace(val_seed=-1),
    ]


def engine_messages() -> list[str]:
    found = []
    for config in invalid_configs():
        errors = config.errors()
        assert errors, config
        found.extend(m for m in errors.values() if m not in found)
    return found


def test_the_invalid_configs_cover_every_message_of_trainconfig_errors():
    """Each message TrainConfig.errors() writes (the settings table's, and fmnist/config/run.py's own, each up to its
    first variable part) is among those said above."""
    source = Path(__file__).resolve().parent.parent.joinpath("fmnist", "config", "run.py").read_text()
    written = re.findall(r'e\[[^]]+\] = (?:N_\()?f?"([^"{]*)', source)
    written += [s.error.split("{")[0] for s in SETTINGS if s.error]
    assert len(written) >= 19  # as many as the table and run.py write today
    said = engine_messages()
    assert not [w for w in written if not any(m.startswith(w) for m in said)]
    assert {"flip is on or off", "warp is on or off", "drop last is on or off", "eval train is on or off"} <= set(said)
    assert {m.split()[1] for m in said if m.startswith("unknown ")} == set(CHOICES)


CHOICES = ("activation", "optimizer", "schedule", "device", "precision", "pool", "head")
# Names and option values that stay as they are in Korean.
AS_IS = {"swish", "rmsprop", "step", "tpu", "fp16", "relu", "gelu", "tanh", "sigmoid", "leaky_relu", "sgd", "momentum",
         "adam", "adamw", "constant", "onecycle", "cosine", "auto", "cpu", "cuda", "mps", "fp32", "bf16", "val_size",
         "PyTorch", "CUDA", "GPU", "MPS", "Apple", "EMA", "min", "max", "avg", "none", "mean", "flatten", "gap"}


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z_]+", text) if len(w) >= 3}


@pytest.mark.parametrize("message", [*engine_messages(), CUDA_MISSING, MPS_MISSING])
def test_every_engine_message_of_the_form_reads_in_korean(message):
    korean = engine(message, "ko")
    assert HANGUL.search(korean), message
    assert not (words(message) & words(korean)) - AS_IS, korean


@pytest.mark.parametrize("advice", [
    "use a smaller batch, or narrower or fewer layers",
    "use narrower or fewer layers, or a smaller batch",
    "use narrower or fewer layers, or a smaller batch, or plain SGD (no optimizer state)"])
@pytest.mark.parametrize("where, verb", [("", "is"), ("GPU ", "are")])
def test_the_memory_message_reads_in_korean_with_its_advice(monkeypatch, advice, where, verb):
    from ui import i18n

    monkeypatch.setattr(i18n, "current", lambda: "ko")
    text = f"this run needs about 3.2 GB of {where}memory; about 1.0 GB {verb} free: {advice}"
    korean = memory_text(text)
    assert "3.2 GB" in korean and "1.0 GB" in korean and HANGUL.search(korean)
    assert not re.search(r"\b(use|batch|layers|free|memory)\b", korean), korean


# The sidebar through AppTest.

def test_a_locked_setting_is_disabled_at_the_links_value(ckpt_dir):
    at = app(lock="lr,hidden", lr="0.003", hidden="64,32")
    lr = at.select_slider(key="cfg_lr")
    assert lr.disabled and lr.value == 0.003
    assert at.number_input(key="cfg_layers").disabled and at.number_input(key="cfg_w1").disabled
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(2)] == [64, 32]
    assert not at.number_input(key="cfg_epochs").disabled and not at.selectbox(key="cfg_preset").disabled
    assert captions(at).count("Set by your teacher") == 2
    assert at.query_params["lock"] == "hidden,lr" and share.params_to_config(dict(at.query_params))[1] == []

    at.selectbox(key="cfg_preset").set_value("best")  # a preset fills the rest, not the locked settings
    run(at)
    assert at.select_slider(key="cfg_lr").value == 0.003
    assert [at.number_input(key=f"cfg_w{i}").value for i in range(2)] == [64, 32]
    assert at.number_input(key="cfg_epochs").value == BEST.epochs
    assert at.selectbox(key="cfg_optimizer").value == BEST.optimizer
    assert at.selectbox(key="cfg_preset").value == "custom"  # not the best preset: its rate and layers differ
    assert at.query_params["lock"] == "hidden,lr" and at.query_params["lr"] == "0.003"

    at.number_input(key="cfg_epochs").set_value(3)  # the other settings still change
    run(at)
    assert at.query_params["epochs"] == "3" and at.select_slider(key="cfg_lr").value == 0.003


def test_a_locked_preset_cannot_be_chosen(ckpt_dir):
    at = app(preset="quick", lock="preset")
    assert at.selectbox(key="cfg_preset").disabled and at.selectbox(key="cfg_preset").value == "quick"
    assert at.number_input(key="cfg_epochs").value == 14 and not at.number_input(key="cfg_epochs").disabled


def test_hidden_settings_are_not_shown_and_keep_the_links_values(ckpt_dir):
    at = app(hide="optimizer,schedule,hidden", optimizer="adam", hidden="64,32", lock="epochs", epochs="4")
    keys = sidebar_keys(at)
    assert not {"cfg_optimizer", "cfg_schedule", "cfg_layers", "cfg_w0"} & keys
    assert {"cfg_lr", "cfg_epochs", "cfg_preset"} <= keys
    assert at.query_params["optimizer"] == "adam" and at.query_params["hidden"] == "64,32"
    assert at.query_params["hide"] == "hidden,optimizer,schedule" and at.query_params["lock"] == "epochs"

    at.selectbox(key="cfg_preset").set_value("best")  # hidden, not locked: the preset sets them
    run(at)
    assert at.query_params["preset"] == "custom"  # epochs stays locked at 4, the rest is the best preset's
    assert at.query_params["epochs"] == "4" and at.query_params["optimizer"] == "adamw"
    assert at.query_params["hidden"] == ",".join(map(str, BEST.hidden))
    assert not at.button(key="train_start").disabled


def test_a_preset_in_a_locked_lesson_names_what_the_teacher_kept_and_the_hidden_changes(ckpt_dir):
    at = app(preset="quick", lock="lr", hide="optimizer")  # the lesson: quick's AdamW at lr 0.003
    assert not at.sidebar.info
    at.selectbox(key="cfg_preset").set_value("seed")
    run(at)
    assert at.select_slider(key="cfg_lr").value == 0.003 and "optimizer" not in at.query_params  # the seed preset's
    [note] = [i.value for i in at.sidebar.info]
    assert note == ("This is the seed preset but for what your teacher fixed: Learning rate (log scale) stays 0.003 "
                    f"(the preset's is {SEED.lr:g}). The preset also changed settings this lesson does not show: "
                    f"Optimizer is now {SEED.optimizer} (was adamw).")
    at.number_input(key="cfg_epochs").set_value(3)  # the next edit of the form retires the note
    run(at)
    assert not at.sidebar.info


def test_a_preset_that_agrees_with_the_lesson_needs_no_note(ckpt_dir):
    at = app(lock="lr", lr=str(BEST.lr), hide="epochs", epochs=str(BEST.epochs))
    at.selectbox(key="cfg_preset").set_value("best")
    run(at)
    assert at.selectbox(key="cfg_preset").value == "best" and not at.sidebar.info


def test_unknown_names_in_a_lesson_are_ignored_with_a_warning(ckpt_dir):
    at = app(lock="lr,teacher", hide="speed")
    warning = " | ".join(str(w.value) for w in at.warning)
    assert "lock=teacher" in warning and "hide=speed" in warning
    assert at.select_slider(key="cfg_lr").disabled
    assert at.query_params == {"lock": "lr"}


def test_share_as_lesson_builds_a_link_that_locks(ckpt_dir):
    at = app(lang="ko")
    at.number_input(key="cfg_epochs").set_value(5)
    at.select_slider(key="cfg_lr").set_value(0.003)
    run(at)
    assert not at.sidebar.multiselect  # "Share as lesson" is built when opened
    at.session_state["lesson_share"] = True  # what opening the expander sets
    run(at)
    at.multiselect(key="lesson_lock").set_value(["lr"])
    at.multiselect(key="lesson_hide").set_value(["seed", "device"])
    run(at)
    link = at.sidebar.code[0].value
    assert link.startswith("http://localhost:8501/train?")
    params = dict(parse_qsl(urlsplit(link).query))
    assert params == {"preset": "custom", "lr": "0.003", "epochs": "5", "lock": "lr", "hide": "seed,device",
                      "lang": "ko"}
    assert "lock" not in at.query_params  # the teacher's own form is not locked

    student = app(**params)
    lr = student.select_slider(key="cfg_lr")
    assert lr.disabled and lr.value == 0.003
    assert student.number_input(key="cfg_epochs").value == 5
    assert not {"cfg_seed", "cfg_device"} & sidebar_keys(student)
    assert "선생님" in captions(student)
    student.session_state["lesson_share"] = True
    run(student)
    assert not student.sidebar.multiselect  # no "Share as lesson" inside a locked lesson: no unlocked link to make
    assert "lock=lr" in " ".join(str(c.value) for c in student.sidebar.caption)  # the plain link keeps the lock

    hidden_only = app(hide="seed", epochs="5")  # a lesson that only hides: nothing to unlock, sharing stays
    hidden_only.session_state["lesson_share"] = True
    run(hidden_only)
    assert hidden_only.multiselect(key="lesson_hide").value == ["seed"]


def form_widgets(at: AppTest) -> list:
    return [w for kind in ("selectbox", "select_slider", "number_input", "toggle", "multiselect")
            for w in at.sidebar.get(kind) if w.key.startswith(("cfg_", "lesson_"))]


def test_every_control_of_the_form_has_help(ckpt_dir):
    at = app()
    at.session_state["lesson_share"] = True
    widgets = form_widgets(run(at))
    # One control a field, but the layers: a count and 3 widths; the preset; the two lists of "Share as lesson".
    assert len(widgets) == len(share.FIELDS) - 1 + 4 + 1 + 2
    assert not [w.key for w in widgets if not w.help]


def test_the_form_reads_in_korean(ckpt_dir):
    at = app(lang="ko", hidden="64,99999")
    at.session_state["lesson_share"] = True
    run(at)
    assert at.sidebar.header[0].value == "학습 설정"
    assert not [w.key for w in form_widgets(at) if not (HANGUL.search(w.label) or w.label in ("EMA",))]
    assert not [w.key for w in form_widgets(at) if not HANGUL.search(w.help)]
    assert at.select_slider(key="cfg_lr").label == "학습률 (로그 눈금)"
    assert HANGUL.search(at.select_slider(key="cfg_lr").help)
    warning = at.main.warning[0].value
    assert "링크에서" in warning and HANGUL.search(warning.partition("hidden=64,99999:")[2])
    at.number_input(key="cfg_w0").set_value(0)
    run(at)
    assert any("뉴런" in e.value for e in at.sidebar.error)
