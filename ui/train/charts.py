"""Training curves as plotly figures, from plain data: no Streamlit here, so tests can read every trace.

A run is a RunCurves; the live job, earlier runs of the session and saved checkpoints all convert to one, so the
Train and Models pages draw them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go

from ui.i18n import N_, _

# The current run in colour, earlier runs in a faint grey behind it so they read as context, not data.
TRAIN_COLOR = "#4f46e5"
TEST_COLOR = "#ea580c"
VAL_COLOR = "#16a34a"
TRAIN_EVAL_COLOR = "#0891b2"
REFERENCE_COLOR = "#111827"
EARLIER_COLOR = "#9ca3af"
EARLIER_OPACITY = 0.45
RAW_OPACITY = 0.3
SMOOTHING_HALF = 10  # points averaged on each side of a point: 21 points, 525 steps at the default logging

METRIC_LABELS = {  # English, marked for the catalog: shown through _()
    "train_loss": N_("training loss"), "test_loss": N_("test loss"), "val_loss": N_("validation loss"),
    "train_acc": N_("training accuracy (%)"), "train_eval_acc": N_("training accuracy, eval mode (%)"),
    "test_acc": N_("test accuracy (%)"), "val_acc": N_("validation accuracy (%)"),
    "lr": N_("learning rate"),
}
METRIC_TITLES = {"train_loss": N_("Training loss"), "test_loss": N_("Test loss"), "val_loss": N_("Validation loss"),
                 "train_acc": N_("Training accuracy (%)"), "train_eval_acc": N_("Training accuracy, eval mode (%)"),
                 "test_acc": N_("Test accuracy (%)"), "val_acc": N_("Validation accuracy (%)"),
                 "lr": N_("Learning rate")}

# What the tutorial published for its notebook (its printed log shows the last epoch only): the seed preset's
# reference, drawn on the epoch accuracy chart so a learner sees whether a run reproduces it.
NOTEBOOK_PUBLISHED = ({"epoch": 20, "train_eval_acc": 90.89, "test_acc": 87.81},)


def reference_for(config) -> tuple[dict, ...]:
    """The published figures a run of this config can be compared with: the notebook's for the seed preset."""
    return NOTEBOOK_PUBLISHED if getattr(config, "preset", None) == "seed" else ()


@dataclass
class RunCurves:
    label: str
    steps: list[tuple[int, float]] = field(default_factory=list)  # (global step, mean loss since last point)
    epochs: list[dict] = field(default_factory=list)  # per-epoch dicts as in checkpoint history
    current: bool = True
    lr_changes: list[dict] = field(default_factory=list)  # {step, epoch, scale}


def from_snapshot(snap, label: str | None = None, current: bool = True) -> RunCurves:
    """A JobSnapshot (live or from the session's history) as curves."""
    return RunCurves(label or snap.config.describe(), list(snap.steps), list(snap.epochs), current,
                     list(snap.lr_changes))


def from_checkpoint(name: str, meta: dict, current: bool = True) -> RunCurves:
    """A checkpoint's metadata as curves: per-epoch history only, the step losses are not saved."""
    return RunCurves(name, [], list(meta.get("history") or []), current, list(meta.get("lr_changes") or []))


def centred_mean(values: list[float], half: int) -> list[float]:
    """Each point the mean of the points up to `half` on either side of it. Near the ends the window shrinks on
    both sides alike, so a point is never averaged with only what came before it: on a falling loss the line stays
    on the data instead of trailing it (an EMA is highest exactly where the loss falls fastest), and the newest
    point, still without neighbours after it, is drawn as it is."""
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    n = len(values)
    out = []
    for i in range(n):
        h = min(half, i, n - 1 - i)
        out.append((prefix[i + h + 1] - prefix[i - h]) / (2 * h + 1))
    return out


def auto_window(n_points: int) -> int:
    """Half-width of the smoothing window: SMOOTHING_HALF points, but at most a twentieth of a short run, so a run
    of a few points is not flattened into a line."""
    return max(0, min(SMOOTHING_HALF, n_points // 20))


MAX_POINTS = 2000  # per drawn curve, whatever the run's length: a 500-epoch run logs 18,800 steps


def reduce_points(x: list, y: list, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """At most `max_points` of a curve: in each of max_points / 2 buckets of consecutive points, its lowest and its
    highest point, in step order, so a spike still shows however long the run."""
    if len(x) <= max_points:
        return list(x), list(y)
    buckets = max_points // 2
    out_x, out_y = [], []
    for b in range(buckets):
        lo, hi = b * len(x) // buckets, (b + 1) * len(x) // buckets
        if lo == hi:
            continue
        i_min = min(range(lo, hi), key=y.__getitem__)
        i_max = max(range(lo, hi), key=y.__getitem__)
        for i in sorted({i_min, i_max}):
            out_x.append(x[i])
            out_y.append(y[i])
    return out_x, out_y


def step_loss_figure(runs: list[RunCurves], smoothing: int | None = None) -> go.Figure:
    """Loss per logged step; `smoothing` is the half-width of the centred window, chosen from the drawn curve's
    length when None. Long runs are reduced to what is drawn (reduce_points) before anything else, smoothing
    included."""
    fig = go.Figure()
    for run in _earlier_first(runs):
        if not run.steps:
            continue
        x, y = reduce_points([s for s, _ in run.steps], [loss for _, loss in run.steps])
        smooth = centred_mean(y, auto_window(len(y)) if smoothing is None else smoothing)
        if run.current:
            fig.add_trace(go.Scatter(x=x, y=y, name=_("loss (raw)"), mode="lines", opacity=RAW_OPACITY,
                                     line={"color": TRAIN_COLOR, "width": 1}))
            fig.add_trace(go.Scatter(x=x, y=smooth, name=_("loss (smoothed)"), mode="lines",
                                     line={"color": TRAIN_COLOR, "width": 2}))
            for change in run.lr_changes:
                fig.add_vline(x=change["step"], line_dash="dot", line_color="#6b7280",
                              annotation_text=f"lr ×{change['scale']:g}", annotation_position="top")
        else:
            fig.add_trace(go.Scatter(x=x, y=smooth, name=run.label, mode="lines",
                                     opacity=EARLIER_OPACITY, line={"color": EARLIER_COLOR, "width": 1}))
    return _layout(fig, _("Training loss per step"), _("step"), _("loss"))


def epoch_loss_figure(runs: list[RunCurves]) -> go.Figure:
    return _epoch_figure(runs, ("train_loss", "test_loss", "val_loss"), _("Loss per epoch"), _("loss"))


def epoch_accuracy_figure(runs: list[RunCurves], reference: tuple[dict, ...] = ()) -> go.Figure:
    """Accuracy per epoch; `reference` (see reference_for) adds published figures as black crosses."""
    fig = _epoch_figure(runs, ("train_acc", "train_eval_acc", "test_acc", "val_acc"), _("Accuracy per epoch"),
                        _("accuracy (%)"))
    for metric in ("train_eval_acc", "test_acc"):
        x, y = _series(list(reference), metric)
        if y:
            fig.add_trace(go.Scatter(x=x, y=y, name=_("notebook (published) {split}", split=_(SPLIT_NAMES[metric])),
                                     mode="markers",
                                     marker={"symbol": "x", "size": 10, "color": REFERENCE_COLOR}))
    return fig


def compare_figure(runs: list[RunCurves], metric: str) -> go.Figure:
    """One line per run for one metric; every run in its own colour, since all are being compared."""
    fig = go.Figure()
    for run in runs:
        x, y = _series(run.epochs, metric)
        if y:
            fig.add_trace(go.Scatter(x=x, y=y, name=run.label, mode="lines+markers"))
    return _layout(fig, _(METRIC_TITLES.get(metric, metric)), _("epoch"), _(METRIC_LABELS.get(metric, metric)))


SPLIT_NAMES = {"train_loss": N_("train"), "train_acc": N_("train"), "train_eval_acc": N_("train (eval mode)"),
               "test_loss": N_("test"), "test_acc": N_("test"), "val_loss": N_("validation"),
               "val_acc": N_("validation")}
COLORS = {"train": TRAIN_COLOR, "train (eval mode)": TRAIN_EVAL_COLOR, "test": TEST_COLOR, "validation": VAL_COLOR}


def _epoch_figure(runs: list[RunCurves], metrics: tuple[str, ...], title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    for run in _earlier_first(runs):
        for metric in metrics:
            x, y = _series(run.epochs, metric)
            if not y:  # val_* are None without a validation split
                continue
            kind = SPLIT_NAMES[metric]
            if run.current:
                fig.add_trace(go.Scatter(x=x, y=y, name=_(kind), mode="lines+markers",
                                         line={"color": COLORS[kind]}))
            else:
                fig.add_trace(go.Scatter(x=x, y=y, name=f"{run.label} {_(kind)}", mode="lines",
                                         opacity=EARLIER_OPACITY,
                                         line={"color": EARLIER_COLOR, "width": 1,
                                               "dash": "solid" if kind.startswith("train") else "dot"}))
    return _layout(fig, title, _("epoch"), y_title)


def _series(epochs: list[dict], metric: str) -> tuple[list[int], list[float]]:
    points = [(e["epoch"], e[metric]) for e in epochs if e.get(metric) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def _earlier_first(runs: list[RunCurves]) -> list[RunCurves]:
    # Plotly draws traces in order: earlier runs first keeps the current one on top.
    return [r for r in runs if not r.current] + [r for r in runs if r.current]


# Margins that already hold the tick labels, axis titles and a one-row legend: plotly.js draws a figure again
# whenever they must grow to fit (doAutoMargin), and the live charts are drawn anew at every update. Measured in
# Chromium: 20-24 ms a chart with 10 px margins, 10-12 ms with these. Longer labels or legends still push them.
MARGIN = {"l": 80, "r": 24, "t": 40, "b": 92}


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=320, margin=MARGIN,
                      legend={"orientation": "h", "y": -0.25})
    return fig


# Text alternatives: each chart's key figures in words, for screen readers and for anyone who reads rather than looks.

def _current(runs: list[RunCurves]) -> RunCurves | None:
    return next((r for r in reversed(runs) if r.current), None)


def step_loss_text(runs: list[RunCurves]) -> str:
    """The step chart in words: the current run's last logged loss, its lowest and where the run began."""
    run = _current(runs)
    if run is None or not run.steps:
        return _("No training loss logged yet.")
    step, loss = run.steps[-1]
    lowest = min(v for _s, v in run.steps)
    text = _("Step {step}: training loss {loss} (first logged {first}, lowest so far {lowest}).", step=f"{step:,}",
             loss=f"{loss:.3f}", first=f"{run.steps[0][1]:.3f}", lowest=f"{lowest:.3f}")
    if run.lr_changes:
        text += " " + _("Learning rate changed {n} times.", n=len(run.lr_changes))
    return text


def _last_epoch(runs: list[RunCurves]) -> dict | None:
    run = _current(runs)
    return run.epochs[-1] if run is not None and run.epochs else None


def epoch_loss_text(runs: list[RunCurves], total: int | None = None) -> str:
    """The epoch loss chart in words: the last epoch's training and test (and validation) loss."""
    last = _last_epoch(runs)
    if last is None:
        return _("No epoch finished yet.")
    text = _("Epoch {epoch} of {total}: training loss {train}, test loss {test}.", epoch=last["epoch"],
             total=total or "?", train=_number(last.get("train_loss"), ".3f"),
             test=_number(last.get("test_loss"), ".3f"))
    if last.get("val_loss") is not None:
        text += " " + _("Validation loss {value}.", value=f"{last['val_loss']:.3f}")
    return text


def epoch_accuracy_text(runs: list[RunCurves], total: int | None = None) -> str:
    """The epoch accuracy chart in words: the last epoch's accuracies, and the best test accuracy so far."""
    last = _last_epoch(runs)
    if last is None:
        return _("No epoch finished yet.")
    text = _("Epoch {epoch} of {total}: test accuracy {test}%, training accuracy {train}%.", epoch=last["epoch"],
             total=total or "?", test=_number(last.get("test_acc"), ".1f"),
             train=_number(last.get("train_acc"), ".1f"))
    if last.get("train_eval_acc") is not None:
        text += " " + _("Training accuracy in eval mode {value}%.", value=f"{last['train_eval_acc']:.1f}")
    if last.get("val_acc") is not None:
        text += " " + _("Validation accuracy {value}%.", value=f"{last['val_acc']:.1f}")
    tests = [(e["test_acc"], e["epoch"]) for e in _current(runs).epochs if e.get("test_acc") is not None]
    if len(tests) > 1:
        best, epoch = max(tests)
        text += " " + _("Best test accuracy {acc}% after epoch {epoch}.", acc=f"{best:.1f}", epoch=epoch)
    return text


def _number(value, pattern: str) -> str:
    return "–" if value is None else format(value, pattern)
