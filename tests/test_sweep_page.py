"""The Sweep page (AppTest) and its figure builders (ui/sweep/charts.py) on real Optuna studies."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from fmnist.store import checkpoints
from ui.sweep import charts as sweep_charts

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "sweep.py")
# The tiny model of tests/conftest.py, fixed through single choices; only the learning rate is searched.
TINY_SPECS = {"hidden": "choice:32", "batch_size": "choice:512", "optimizer": "choice:adam",
              "lr": "loguniform:1e-3:3e-2"}


def epoch_rows(accs: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "train_loss": 1.0, "train_acc": a - 1, "val_loss": 1.0, "val_acc": a, "test_acc": a - 2,
             "elapsed_s": i + 1.0} for i, a in enumerate(accs)]


@pytest.fixture
def study() -> optuna.Study:
    """A finished study in the format the sweeps write: three complete trials and a pruned one."""
    s = optuna.create_study(direction="maximize")
    dists = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
             "hidden": optuna.distributions.CategoricalDistribution(["32", "64,32"])}
    for lr, hidden, accs in ((1e-3, "32", [80.0, 83.0]), (1e-2, "64,32", [82.0, 85.5]), (3e-2, "32", [79.0, 81.0])):
        s.add_trial(optuna.trial.create_trial(params={"lr": lr, "hidden": hidden}, distributions=dists, value=accs[-1],
                                              user_attrs={"history": epoch_rows(accs), "test_acc": accs[-1] - 2},
                                              intermediate_values=dict(enumerate(accs, 1))))
    s.add_trial(optuna.trial.create_trial(params={"lr": 1e-4, "hidden": "32"}, distributions=dists,
                                          state=optuna.trial.TrialState.PRUNED, intermediate_values={1: 40.0},
                                          user_attrs={"history": epoch_rows([40.0])}))
    return s


def test_study_figures_are_optunas_four(study):
    figs = sweep_charts.study_figures(study)
    assert all(isinstance(figs[k], go.Figure) for k in ("history", "parallel", "importance", "slice")), figs
    # Optuna 5 draws parallel coordinates as one line per complete trial across labelled axes.
    parallel = figs["parallel"]
    lines = [t for t in parallel.data if t.mode == "lines"]
    assert len(lines) == 3  # the pruned trial has no objective value
    assert set(parallel.layout.xaxis.ticktext) == {"validation accuracy (%)", "lr", "hidden"}
    assert sorted(float(line.customdata[0][1]) for line in lines) == [81.0, 83.0, 85.5]
    assert {bar for bar in figs["importance"].data[0].y} == {"lr", "hidden"}


def test_an_empty_study_says_when_figures_come():
    figs = sweep_charts.study_figures(optuna.create_study(direction="maximize"))
    assert set(figs.values()) == {"appears once a trial has completed"}


def test_trial_rows_and_curves(study):
    rows = sweep_charts.trial_rows(study.trials, [])
    assert [r["trial"] for r in rows] == [3, 2, 1, 0]
    assert rows[0]["state"] == "pruned" and rows[0]["note"] == "pruned after epoch 1"
    assert rows[2] | {"progress": 1.0} == rows[2] and rows[2]["val acc"] == 85.5 and rows[2]["hidden"] == "64,32"
    fig = sweep_charts.trial_curves(study.trials[1])
    assert [t.name for t in fig.data] == ["train", "validation", "test"]
    assert list(fig.data[1].y) == [82.0, 85.5]


@pytest.fixture
def sweep_page(ckpt_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FMNIST_SWEEP_STORAGE", f"sqlite:///{tmp_path / 'studies.db'}")
    return AppTest.from_file(PAGE, default_timeout=120).run()


def set_specs(at: AppTest, specs: dict) -> AppTest:
    """Picks the fields and sets each one's controls as a person would, to the range or choices a CLI spec names."""
    at.multiselect(key="sweep_fields").set_value(list(specs)).run()
    for field, spec in specs.items():
        kind, _, rest = spec.partition(":")
        if kind == "choice":
            at.multiselect(key=f"sweep_choices_{field}").set_value(rest.split("|"))
        else:
            low, high = (float(v) for v in rest.split(":"))
            at.number_input(key=f"sweep_low_{field}").set_value(low)
            at.number_input(key=f"sweep_high_{field}").set_value(high)
            at.checkbox(key=f"sweep_log_{field}").set_value(kind == "loguniform")
    return at.run()


def command(at: AppTest) -> str:
    return next(c.value for c in at.caption if "python -m fmnist sweep" in c.value)


def test_ranges_are_controls_and_the_command_follows_them(sweep_page):
    page = sweep_page
    page.multiselect(key="sweep_fields").set_value(["lr", "optimizer"]).run()
    # A number: low, high and log scale, opening on the field's default range.
    assert page.number_input(key="sweep_low_lr").value == pytest.approx(1e-4)
    assert page.number_input(key="sweep_high_lr").value == pytest.approx(0.1)
    assert page.checkbox(key="sweep_log_lr").value is True
    assert "--param lr=loguniform:0.0001:0.1" in command(page)
    page.checkbox(key="sweep_log_lr").uncheck()
    page.number_input(key="sweep_high_lr").set_value(0.05).run()
    assert "--param lr=uniform:0.0001:0.05" in command(page)
    # Choices: a list of the field's values.
    choices = page.multiselect(key="sweep_choices_optimizer")
    assert set(choices.options) >= {"sgd", "adam", "adamw"}
    choices.set_value(["adam", "sgd"]).run()
    assert "--param 'optimizer=choice:adam|sgd'" in command(page)  # quoted for the shell
    assert [t.key for t in page.text_input] == ["sweep_study"]  # no range typed in the CLI's syntax any more
    assert not page.exception


def test_a_bad_range_is_shown_under_its_input_and_start_is_off(sweep_page):
    page = sweep_page
    set_specs(page, {"lr": "loguniform:0.1:0.001"})
    assert [e.value for e in page.error] == ["'lr=loguniform:0.1:0.001': the range is reversed (LOW 0.1 is above "
                                            "HIGH 0.001)"]
    assert page.button(key="sweep_start").disabled


def test_page_runs_trials_as_jobs_and_makes_the_best_active(sweep_page, ckpt_dir):
    page = sweep_page
    set_specs(page, TINY_SPECS)
    page.number_input(key="sweep_trials_n").set_value(2)
    page.number_input(key="sweep_epochs").set_value(1)
    page.number_input(key="sweep_val").set_value(2000)
    page.run()
    assert any("--param lr=loguniform:0.001:0.03" in c.value for c in page.caption)  # the same sweep as a command
    page.button(key="sweep_start").click().run()
    assert wait_for_trials(page, 2) == ["complete", "complete"]
    table = page.dataframe[0]  # a finished trial has no ETA: its cell shows a dash, not Streamlit's "None"
    assert table.value["ETA"].isna().all() and table.proto.placeholder == "–"
    page.button(key="sweep_best").click().run()
    name = page.session_state["active_model"]
    assert name.startswith("sweep-sweep-1-trial-") and (ckpt_dir / (name + checkpoints.SUFFIX)).is_file()
    meta = checkpoints.load(ckpt_dir / (name + checkpoints.SUFFIX)).meta
    assert meta["sweep"]["study"] == "sweep-1" and meta["config"]["hidden"] == [32]
    assert [c.value for c in page.get("plotly_chart")]  # Optuna's figures are drawn

    page.number_input(key="sweep_trials_n").set_value(1)  # the same study again: it continues
    page.button(key="sweep_start").click().run()
    assert wait_for_trials(page, 3) == ["complete", "complete", "complete"]


def wait_for_trials(page: AppTest, n: int, timeout_s: float = 600) -> list[str]:
    """Reruns the page (as its live fragment would) until the table lists n finished trials and the sweep has ended
    (Stop disabled, the form usable again: the last trial is recorded a moment before its runner thread ends);
    their states."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = [r["state"] for r in page.dataframe[0].value.to_dict("records")] if page.dataframe else []
        finished = len(states) == n and all(s in ("complete", "pruned", "fail") for s in states)
        if finished and page.button(key="sweep_stop").disabled or time.monotonic() > deadline:
            return states
        time.sleep(1)
        page.run()


def test_text_alternatives_state_each_figures_key_figures(study):
    assert sweep_charts.history_text(study) == ("Best of 3 completed trials: 85.5% validation accuracy (trial 1) with "
                                                "hidden 64,32, lr 0.01.")
    assert sweep_charts.parallel_text(study) == ("One line per completed trial (3), across hidden, lr; validation "
                                                 "accuracy from 81.0% to 85.5%.")
    assert sweep_charts.slice_text(study) == ("Settings against validation accuracy: hidden tried 32 | 64,32, best "
                                              "64,32; lr tried 0.001–0.03, best 0.01.")
    importance = sweep_charts.study_figures(study)["importance"]
    text = sweep_charts.importance_text(importance)
    assert text.startswith("Most influential first: ") and {"lr", "hidden"} <= set(text.replace(",", " ").split())
    assert sweep_charts.importance_text("needs two completed trials with different values") == ""
    assert sweep_charts.curves_text(study.trials[1]) == ("Trial 1 after epoch 2: training 84.5%, validation 85.5%, "
                                                         "test 83.5%.")
    empty = optuna.create_study(direction="maximize")
    assert sweep_charts.history_text(empty) == "No trial has completed yet."


def test_figures_and_rows_in_korean(study, monkeypatch):
    """In a Korean session Optuna's own axis titles and legend entries, the trial states and the notes read in
    Korean too; the rows keep their keys, so the page still finds its columns."""
    import ui.i18n

    monkeypatch.setattr(ui.i18n, "current", lambda: "ko")
    figs = sweep_charts.study_figures(study)
    history = figs["history"]
    assert history.layout.xaxis.title.text == "시도" and history.layout.yaxis.title.text == "검증 정확도(%)"
    assert {t.name for t in history.data} >= {"검증 정확도(%)", "지금까지 최고"}
    assert history.layout.title.text == "최적화 기록"
    assert figs["importance"].layout.xaxis.title.text == "하이퍼파라미터 중요도"
    rows = sweep_charts.trial_rows(study.trials, [])
    assert rows[0]["state"] == "가지치기됨" and rows[0]["note"] == "에포크 1 뒤 가지치기됨"
    assert rows[1]["state"] == "완료" and set(rows[1]) >= {"trial", "val acc", "test acc", "progress", "ETA", "note"}
    assert sweep_charts.history_text(study).startswith("완료된 시도 3개 중 최고: 검증 정확도 85.5%")
    assert sweep_charts.trial_curves(study.trials[1]).layout.title.text == "시도 1 (완료)"
