"""Figures and tables of a sweep: pure functions of an Optuna study (or trial) to Plotly figures and rows, testable
without a browser. Optuna draws its own figures (optimisation history, parallel coordinates, importance, slice)."""

from __future__ import annotations

import optuna
import plotly.graph_objects as go
from optuna import visualization as vis

from fmnist.sweep_runner import LiveTrial

TARGET = "validation accuracy (%)"
HEIGHT = 360


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def _styled(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, height=HEIGHT, margin=dict(l=50, r=20, t=50, b=40), template="plotly_white")
    return fig


def study_figures(study: optuna.Study) -> dict[str, go.Figure | str]:
    """Optuna's four figures by name; where one cannot be drawn yet, the reason instead of the figure."""
    done = _complete(study)
    if not done:
        reason = "appears once a trial has completed"
        return {k: reason for k in ("history", "parallel", "importance", "slice")}
    out: dict[str, go.Figure | str] = {
        "history": _styled(vis.plot_optimization_history(study, target_name=TARGET), "Optimisation history"),
        "parallel": _styled(vis.plot_parallel_coordinate(study, target_name=TARGET), "Parallel coordinates"),
        "slice": _styled(vis.plot_slice(study, target_name=TARGET), "Slice"),
    }
    out["importance"] = importance_figure(study, done)
    return out


def importance_figure(study: optuna.Study, done: list) -> go.Figure | str:
    """PED-ANOVA importance (Optuna's fANOVA default needs scikit-learn, which the app does not install)."""
    varied = {k for t in done for k in t.params if len({str(u.params.get(k)) for u in done}) > 1}
    if len(done) < 2 or not varied:
        return "needs two completed trials with different values"
    try:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        fig = vis.plot_param_importances(study, evaluator=evaluator, params=sorted(varied), target_name=TARGET)
    except Exception as exc:  # too few trials for the evaluator's quantile, a constant objective, ...
        return f"not available yet ({exc})"
    return _styled(fig, "Parameter importance")


def trial_rows(trials: list[optuna.trial.FrozenTrial], live: list[LiveTrial]) -> list[dict]:
    """One row per trial, newest first: state, parameters, accuracies, and for running ones progress and ETA."""
    running = {t.number: t for t in live}
    rows = []
    for t in sorted(trials, key=lambda t: -t.number):
        row = {"trial": t.number, "state": t.state.name.lower(), **{k: _show(v) for k, v in t.params.items()},
               "val acc": t.value, "test acc": t.user_attrs.get("test_acc"), "progress": None, "ETA": None,
               "note": t.user_attrs.get("fail_reason", "")}
        history = t.user_attrs.get("history") or []
        if t.state == optuna.trial.TrialState.PRUNED and history:
            row["note"] = f"pruned after epoch {history[-1]['epoch']}"
        if t.number in running:
            snap = running[t.number].snapshot
            row["progress"] = snap.step / snap.total_steps if snap.total_steps else 0.0
            row["ETA"] = round(snap.eta_s) if snap.eta_s is not None else None
            if snap.status == "stopping":
                row["note"] = "stopping"
        elif t.state == optuna.trial.TrialState.COMPLETE:
            row["progress"] = 1.0
        rows.append(row)
    return rows


def _show(value):
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def trial_curves(trial: optuna.trial.FrozenTrial) -> go.Figure:
    """A trial's accuracies per epoch (train, validation, test), from what it recorded in the study."""
    history = trial.user_attrs.get("history") or []
    epochs = [h["epoch"] for h in history]
    fig = go.Figure()
    for key, name in (("train_acc", "train"), ("val_acc", "validation"), ("test_acc", "test")):
        fig.add_trace(go.Scatter(x=epochs, y=[h[key] for h in history], mode="lines+markers", name=name))
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="accuracy (%)")
    return _styled(fig, f"Trial {trial.number} ({trial.state.name.lower()})")
