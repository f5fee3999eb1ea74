"""The Playground and Sweep pages in Korean: the engine's own messages (fmnist/playground.py, fmnist/sweep/study.py,
fmnist/sweep/runner.py), triggered for real, read in Korean through engine(), and both pages run in Korean."""

from __future__ import annotations

import re

import pytest

from fmnist.config import PRESETS
from fmnist.playground import LESSONS, Setup
from fmnist.sweep import space
from fmnist.sweep import study as sweep
from tests.helpers import run_in_korean
from ui.i18n import engine, gettext
from ui.playground.controls import parse_hidden

HANGUL = re.compile("[가-힣]")

BAD_SETUPS = [dict(points=5), dict(noise=3.0), dict(train_fraction=0.95), dict(seed=-1), dict(features=()),
              dict(features=("x1", "x9")), dict(features=("x1", "x1")), dict(hidden=(1.5,)), dict(hidden=(2,) * 7),
              dict(hidden=(9,)), dict(lr=0.0), dict(batch_size=0), dict(l1=2.0), dict(l2=-1.0),
              dict(dataset="moons"), dict(activation="swish")]


def korean(message: str) -> str:
    text = engine(message, "ko")
    assert HANGUL.search(text) and text != message, message
    return text


@pytest.mark.parametrize("bad", BAD_SETUPS, ids=lambda b: next(iter(b)))
def test_every_setup_error_reads_in_korean(bad):
    errors = Setup(**bad).errors()
    assert errors
    for message in errors.values():
        korean(message)


def test_a_setup_errors_values_survive_the_translation():
    [message] = Setup(points=5).errors().values()
    assert korean(message) == "점은 20~2000개를 쓰세요 (입력: 5)"


def test_the_storys_lessons_read_in_korean():
    for lesson in LESSONS.values():
        korean(lesson.title)
        korean(lesson.why)


def test_the_hidden_fields_own_message_reads_in_korean():
    with pytest.raises(ValueError) as exc:
        parse_hidden("8,x")
    assert HANGUL.search(gettext(str(exc.value), "ko"))


BAD_PARAMS = ["lr", "depth=choice:1|2", "lr=beta:1:2", "hidden=choice:", "optimizer=uniform:0:1", "lr=int:1:3",
              "batch_size=uniform:1:3", "lr=loguniform:1", "lr=uniform:a:2", "lr=uniform:0:inf", "batch_size=int:1.5:3",
              "lr=loguniform:0.1:0.001", "lr=uniform:0.1:0.1", "lr=loguniform:0:1", "hidden=choice:a|b",
              "dropout=uniform:0:3"]


@pytest.mark.parametrize("text", BAD_PARAMS)
def test_every_range_error_reads_in_korean(text):
    base = space.base_config(PRESETS["seed"], 1, 2000)
    with pytest.raises(space.SweepError) as exc:
        space.parse_param(text, base)
    korean(str(exc.value))


def test_other_sweep_errors_read_in_korean(tmp_path):
    messages = []
    for call in (lambda: sweep.check_study_name("no/slashes"), lambda: sweep.open_storage("nonsense://x"),
                 lambda: sweep.open_storage(f"journal:{tmp_path / 'missing' / 'j.log'}"),
                 lambda: sweep.make_sampler("grid", [space.parse_param("lr=uniform:0.1:0.2",
                                                                       space.base_config(PRESETS["seed"]))])):
        with pytest.raises(space.SweepError) as exc:
            call()
        messages.append(str(exc.value))
    for message in messages:
        korean(message)


def test_trial_failure_reasons_and_states_read_in_korean():
    from ui.sweep.charts import state_label

    korean(sweep.STOP_REASON)
    korean("invalid combination: batch_size: use 1 to 60000 (got 0)")
    for reason in ("it finished no epoch", "the run failed", "the trainer ended without a result"):
        korean(reason)
    assert state_label("pruned") == "pruned"  # English outside a session


def test_the_playground_runs_in_korean(ckpt_dir):
    at = run_in_korean("pages/playground.py")
    assert at.title[0].value == "플레이그라운드: 층이 왜 중요한가"
    assert any(m.value.startswith("스텝 **0**") for m in at.markdown)
    assert at.button(key="pg_play").label == "재생"
    assert at.session_state["dataset"] == "xor" and at.selectbox(key="dataset").options[0] == "XOR"  # labels only
    captions = [c.value for c in at.caption]
    assert any(c.startswith("스텝 0의 결정 지도") for c in captions) and any(c.startswith("신경망: 입력 2개")
                                                                             for c in captions)
    at = run_in_korean("pages/playground.py", points="5")
    assert at.sidebar.error[0].value == "점은 20~2000개를 쓰세요 (입력: 5)"
    assert at.warning[0].value == "이 신경망을 학습하려면 사이드바에 표시된 설정을 고치세요."


def test_the_sweep_page_runs_in_korean(ckpt_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_SWEEP_STORAGE", f"sqlite:///{tmp_path / 'studies.db'}")
    at = run_in_korean("pages/sweep.py")
    assert at.title[0].value == "스윕: 하이퍼파라미터 탐색"  # not 탐색 alone, which reads like Explore (살펴보기)
    assert at.button(key="sweep_start").label == "시작"
    assert any("스터디가 아직 없습니다" in i.value for i in at.info)
    at = run_in_korean("pages/sweep.py", {"sweep_low_lr": 0.1, "sweep_high_lr": 0.001})
    assert at.number_input(key="sweep_low_lr").label == "lr: 최솟값" and at.checkbox(key="sweep_log_lr").label == (
        "로그 스케일")
    assert [e.value for e in at.error] == [
        "'lr=loguniform:0.1:0.001': 범위가 뒤집혔습니다 (LOW 0.1이 HIGH 0.001보다 큽니다)"]
