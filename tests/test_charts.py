"""The chart builders: what each figure draws, checked trace by trace."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.config import BEST, SEED, TrainConfig
from fmnist.runs.jobs import JobSnapshot
from ui.train import charts
from ui.train.charts import RunCurves


def _epochs(n: int, val: bool = False, offset: float = 0.0) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e + offset, "train_acc": 70.0 + e, "test_loss": 1.2 / e + offset,
             "test_acc": 68.0 + e, "val_loss": (1.1 / e) if val else None, "val_acc": (69.0 + e) if val else None,
             "lr": 0.01, "elapsed_s": float(e)} for e in range(1, n + 1)]


def _traces(fig) -> dict:
    return {t.name: t for t in fig.data}


def test_centred_mean_on_a_hand_made_series():
    assert charts.centred_mean([3.0, 0.0, 6.0, 3.0, 9.0], 1) == [3.0, 3.0, 3.0, 6.0, 9.0]
    assert charts.centred_mean([4.0, 8.0], 5) == [4.0, 8.0]  # no neighbours on both sides: drawn as they are
    assert charts.centred_mean([], 3) == []


def trailing_mean(values: list[float], n: int) -> list[float]:
    return [sum(values[i - n + 1:i + 1]) / n for i in range(n - 1, len(values))]


def falling_loss(tau: float, n: int = 400) -> tuple[list[float], list[float]]:
    """A loss that falls then levels off, logged every 25 steps as a run does: (the curve itself, with noise)."""
    rng = np.random.default_rng(0)
    true = [0.3 + 2.0 * float(np.exp(-i / tau)) for i in range(n)]
    return true, [v + float(rng.normal(0, 0.03)) for v in true]


def smoothed(raw: list[float]) -> list[float]:
    steps = [(25 * (i + 1), v) for i, v in enumerate(raw)]
    return list(_traces(charts.step_loss_figure([RunCurves("now", steps, [])]))["loss (smoothed)"].y)


def ema(raw: list[float], weight: float = 0.1) -> list[float]:
    """The exponential average the chart drew before (weight 0.1: about the last ten points)."""
    out: list[float] = []
    for v in raw:
        out.append(v if not out else weight * v + (1 - weight) * out[-1])
    return out


def worst(curve: list[float], reference: list[float]) -> float:
    return max(abs(c - r) / r for c, r in zip(curve, reference))


def test_the_smoothed_loss_follows_a_falling_loss_without_lag():
    # The measure: within 5% of the raw loss's running mean over the last 20 points, on a loss that falls
    # over a few hundred points.
    _, raw = falling_loss(tau=300)
    assert worst(smoothed(raw)[19:], trailing_mean(raw, 20)) <= 0.05
    # That running mean trails a fast fall by ten points itself, so where the loss falls fast the line is held to
    # the loss without its noise instead: within 5% of it, where the old exponential average strays twice as far.
    true, raw = falling_loss(tau=100)
    assert worst(smoothed(raw), true) <= 0.05
    assert worst(ema(raw), true) > 0.08


def test_step_loss_figure_draws_raw_and_smoothed_current_and_faint_earlier_runs():
    steps = [(25, 2.0), (50, 1.0), (75, 1.0)]
    current = RunCurves("now", steps, [], current=True, lr_changes=[{"step": 50, "epoch": 1, "scale": 0.5}])
    earlier = RunCurves("before", [(25, 3.0), (50, 2.0)], [], current=False)
    fig = charts.step_loss_figure([current, earlier], smoothing=1)

    assert [t.name for t in fig.data] == ["before", "loss (raw)", "loss (smoothed)"]  # earlier drawn underneath
    t = _traces(fig)
    assert list(t["loss (raw)"].x) == [25, 50, 75]
    assert list(t["loss (raw)"].y) == [2.0, 1.0, 1.0]
    assert list(t["loss (smoothed)"].y) == [2.0, 4 / 3, 1.0]
    assert t["loss (raw)"].opacity < 1 and t["loss (smoothed)"].opacity is None
    assert t["before"].line.color == charts.EARLIER_COLOR and t["before"].opacity == charts.EARLIER_OPACITY
    assert list(t["before"].y) == [3.0, 2.0]  # earlier runs go through the same smoothing (two points: as they are)
    # the learning-rate change is a vertical line at its step, labelled with the factor
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(50, 50)]
    assert "×0.5" in fig.layout.annotations[0].text


def test_smoothing_follows_the_run_length_unless_given():
    assert charts.auto_window(1000) == charts.SMOOTHING_HALF
    assert charts.auto_window(100) == 5
    assert charts.auto_window(5) == 0
    short = RunCurves("now", [(25, 2.0), (50, 1.0), (75, 0.5)], [])
    smoothed = _traces(charts.step_loss_figure([short]))["loss (smoothed)"]
    assert list(smoothed.y) == [2.0, 1.0, 0.5]  # three points: nothing to average over


def test_step_loss_figure_without_steps_is_empty():
    assert len(charts.step_loss_figure([RunCurves("ckpt", [], _epochs(2))]).data) == 0


def test_epoch_figures_plot_the_epochs_given():
    epochs = _epochs(3)
    loss = charts.epoch_loss_figure([RunCurves("now", [], epochs)])
    acc = charts.epoch_accuracy_figure([RunCurves("now", [], epochs)])

    assert [t.name for t in loss.data] == ["train", "test"]  # no validation split: no val trace
    assert list(loss.data[0].x) == [1, 2, 3]
    assert list(loss.data[0].y) == [e["train_loss"] for e in epochs]
    assert list(loss.data[1].y) == [e["test_loss"] for e in epochs]
    assert list(acc.data[1].y) == [e["test_acc"] for e in epochs]
    assert loss.data[0].line.color != loss.data[1].line.color


def test_epoch_figures_add_validation_and_grey_earlier_runs():
    now = RunCurves("now", [], _epochs(2, val=True))
    before = RunCurves("run 1", [], _epochs(4, offset=0.5), current=False)
    fig = charts.epoch_accuracy_figure([now, before])

    assert [t.name for t in fig.data] == ["run 1 train", "run 1 test", "train", "test", "validation"]
    t = _traces(fig)
    assert list(t["validation"].y) == [70.0, 71.0]
    assert list(t["run 1 test"].x) == [1, 2, 3, 4]
    for name in ("run 1 train", "run 1 test"):
        assert t[name].line.color == charts.EARLIER_COLOR and t[name].opacity == charts.EARLIER_OPACITY
    for name in ("train", "test", "validation"):
        assert t[name].line.color != charts.EARLIER_COLOR and t[name].opacity is None


@pytest.mark.parametrize("metric", ["test_acc", "test_loss"])
def test_compare_figure_has_one_line_per_run(metric):
    a = charts.from_checkpoint("a", {"history": _epochs(2)})
    b = charts.from_checkpoint("b", {"history": _epochs(3, offset=1.0)})
    fig = charts.compare_figure([a, b], metric)

    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].x) == [1, 2, 3]
    assert list(fig.data[1].y) == [e[metric] for e in _epochs(3, offset=1.0)]
    assert fig.layout.yaxis.title.text == charts.METRIC_LABELS[metric]


def test_compare_figure_skips_runs_without_the_metric():
    fig = charts.compare_figure([RunCurves("a", [], _epochs(2)), RunCurves("empty", [], [])], "val_acc")
    assert len(fig.data) == 0


def test_from_snapshot_and_from_checkpoint_carry_the_data():
    config = TrainConfig(hidden=(32,), epochs=2)
    snap = JobSnapshot("done", config, [(25, 1.5)], _epochs(2), lr_changes=[{"step": 3, "epoch": 1, "scale": 2.0}])
    run = charts.from_snapshot(snap, current=False)
    assert (run.label, run.steps, run.epochs, run.current) == (config.describe(), [(25, 1.5)], _epochs(2), False)
    assert run.lr_changes == [{"step": 3, "epoch": 1, "scale": 2.0}]

    ckpt = charts.from_checkpoint("default", {"history": _epochs(1)})
    assert (ckpt.label, ckpt.steps, ckpt.epochs) == ("default", [], _epochs(1))
    assert charts.from_checkpoint("broken", {}).epochs == []


def test_from_snapshot_copies_so_later_job_updates_do_not_leak_in():
    snap = JobSnapshot("running", TrainConfig(), [(25, 1.0)], [])
    run = charts.from_snapshot(snap)
    snap.steps.append((50, 0.9))
    assert run.steps == [(25, 1.0)]


def test_a_500_epoch_run_sends_at_most_2000_points_a_curve_and_keeps_its_spikes():
    # What a 500-epoch seed run logs: 18,800 steps (938 an epoch, a point every 25 steps and at each epoch's end).
    n = 18_800
    steps = [(25 * (i + 1), 2.0 / (1 + i / 500) + (9.0 if i == 12_345 else 0.0)) for i in range(n)]
    earlier = RunCurves("before", steps[:n // 2], [], current=False)
    fig = charts.step_loss_figure([RunCurves("now", steps, []), earlier])
    for trace in fig.data:
        assert len(trace.x) <= charts.MAX_POINTS, trace.name
        assert list(trace.x) == sorted(trace.x)
    raw = _traces(fig)["loss (raw)"]
    assert max(raw.y) == max(loss for _, loss in steps)  # the spike survives the reduction
    assert min(raw.y) == min(loss for _, loss in steps)
    assert raw.x[0] == steps[0][0] and raw.x[-1] == steps[-1][0]
    assert len(fig.to_json()) < 200_000


def test_reducing_leaves_short_curves_alone():
    assert charts.reduce_points([1, 2, 3], [3.0, 1.0, 2.0]) == ([1, 2, 3], [3.0, 1.0, 2.0])


def test_seed_preset_runs_show_the_notebooks_published_figures_and_the_eval_mode_training_accuracy():
    epochs = [{**e, "train_eval_acc": 72.0 + e["epoch"]} for e in _epochs(3)]
    fig = charts.epoch_accuracy_figure([RunCurves("now", [], epochs)], charts.reference_for(SEED))
    t = _traces(fig)
    assert list(t["train (eval mode)"].y) == [73.0, 74.0, 75.0]
    assert list(t["notebook (published) test"].x) == [20] and list(t["notebook (published) test"].y) == [87.81]
    assert list(t["notebook (published) train (eval mode)"].y) == [90.89]
    assert charts.reference_for(SEED.replace(preset="custom")) == () == charts.reference_for(BEST)
    assert len(charts.epoch_accuracy_figure([RunCurves("now", [], epochs)]).data) == 3


def test_plotly_serialises_the_charts_with_orjson():
    """orjson is a requirement because plotly's default JSON engine ("auto") takes it when it can import it: Streamlit
    serialises every st.plotly_chart with plotly.io.to_json, about twice as fast as with the standard library
    (docs/benchmarks.md)."""
    import json
    from unittest import mock

    import orjson
    import plotly.io as pio

    fig = charts.epoch_loss_figure([RunCurves("run", [], _epochs(5), current=True)])
    with mock.patch.object(orjson, "dumps", wraps=orjson.dumps) as dumps:
        text = pio.to_json(fig, validate=False)
    assert dumps.call_count == 1
    assert json.loads(text) == json.loads(pio.to_json(fig, validate=False, engine="json"))
