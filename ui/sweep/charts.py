"""Figures and tables of a sweep: pure functions of an Optuna study (or trial) to Plotly figures and rows, testable
without a browser. Optuna draws its own figures (optimisation history, parallel coordinates, importance, slice)."""

from __future__ import annotations

import optuna
import plotly.graph_objects as go
from optuna import visualization as vis

from fmnist.sweep.runner import LiveTrial
from ui.i18n import N_, _, engine

TARGET = N_("validation accuracy (%)")
HEIGHT = 360
# Text Optuna writes into its figures (axis titles, legend entries, colour bars), shown through engine().
OPTUNA_TEXT = (N_("Trial"), N_("Best Value"), N_("Objective Value"), N_("Feasible Trial"), N_("Infeasible Trial"),
               N_("Hyperparameter Importance"), N_("Hyperparameter"))
# Optuna's trial states as the table shows them (lower case).
STATES = {"complete": N_("complete"), "pruned": N_("pruned"), "fail": N_("fail"), "running": N_("running"),
          "waiting": N_("waiting")}


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def _styled(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, height=HEIGHT, margin=dict(l=50, r=20, t=50, b=40), template="plotly_white")
    return _localized(fig)


def _localized(fig: go.Figure) -> go.Figure:
    """Optuna's own words in its figures (axis titles, legend entries, colour bar titles) in the session's language."""
    for name in fig.layout:
        if name.startswith(("xaxis", "yaxis")) and fig.layout[name].title.text:
            fig.layout[name].title.text = engine(fig.layout[name].title.text)
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = engine(trace.name)
        bar = getattr(getattr(trace, "marker", None), "colorbar", None)
        if bar is not None and bar.title.text:
            bar.title.text = engine(bar.title.text)
    return fig


def state_label(state: str) -> str:
    """A trial state as the table shows it ("complete", "pruned", ...), in the session's language."""
    return _(STATES[state]) if state in STATES else state


def study_figures(study: optuna.Study) -> dict[str, go.Figure | str]:
    """Optuna's four figures by name; where one cannot be drawn yet, the reason instead of the figure."""
    done = _complete(study)
    if not done:
        reason = _("appears once a trial has completed")
        return {k: reason for k in ("history", "parallel", "importance", "slice")}
    target = _(TARGET)
    out: dict[str, go.Figure | str] = {
        "history": _styled(vis.plot_optimization_history(study, target_name=target), _("Optimisation history")),
        "parallel": _styled(vis.plot_parallel_coordinate(study, target_name=target), _("Parallel coordinates")),
        "slice": _styled(vis.plot_slice(study, target_name=target), _("Slice")),
    }
    out["importance"] = importance_figure(study, done)
    return out


def importance_figure(study: optuna.Study, done: list) -> go.Figure | str:
    """PED-ANOVA importance (Optuna's fANOVA default needs scikit-learn, which the app does not install)."""
    varied = {k for t in done for k in t.params if len({str(u.params.get(k)) for u in done}) > 1}
    if len(done) < 2 or not varied:
        return _("needs two completed trials with different values")
    try:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        fig = vis.plot_param_importances(study, evaluator=evaluator, params=sorted(varied), target_name=_(TARGET))
    except Exception as exc:  # too few trials for the evaluator's quantile, a constant objective, ...
        return _("not available yet ({reason})", reason=exc)  # Optuna's own reason stays in English
    return _styled(fig, _("Parameter importance"))


def trial_rows(trials: list[optuna.trial.FrozenTrial], live: list[LiveTrial]) -> list[dict]:
    """One row per trial, newest first: state, parameters, accuracies, and for running ones progress and ETA."""
    running = {t.number: t for t in live}
    rows = []
    for t in sorted(trials, key=lambda t: -t.number):
        row = {"trial": t.number, "state": state_label(t.state.name.lower()),
               **{k: _show(v) for k, v in t.params.items()}, "val acc": t.value,
               "test acc": t.user_attrs.get("test_acc"), "progress": None, "ETA": None,
               "note": _note(t.user_attrs.get("fail_reason", ""))}
        history = t.user_attrs.get("history") or []
        if t.state == optuna.trial.TrialState.PRUNED and history:
            row["note"] = _("pruned after epoch {epoch}", epoch=history[-1]["epoch"])
        if t.number in running:
            snap = running[t.number].snapshot
            row["progress"] = snap.step / snap.total_steps if snap.total_steps else 0.0
            row["ETA"] = round(snap.eta_s) if snap.eta_s is not None else None
            if snap.status == "stopping":
                row["note"] = _("stopping")
        elif t.state == optuna.trial.TrialState.COMPLETE:
            row["progress"] = 1.0
        rows.append(row)
    return rows


def _note(reason: str) -> str:
    return engine(reason) if reason else ""


def _show(value):
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def trial_curves(trial: optuna.trial.FrozenTrial) -> go.Figure:
    """A trial's accuracies per epoch (train, validation, test), from what it recorded in the study."""
    history = trial.user_attrs.get("history") or []
    epochs = [h["epoch"] for h in history]
    fig = go.Figure()
    for key, name in (("train_acc", _("train")), ("val_acc", _("validation")), ("test_acc", _("test"))):
        fig.add_trace(go.Scatter(x=epochs, y=[h[key] for h in history], mode="lines+markers", name=name))
    fig.update_xaxes(title=_("epoch"), dtick=1)
    fig.update_yaxes(title=_("accuracy (%)"))
    return _styled(fig, _("Trial {number} ({state})", number=trial.number,
                          state=state_label(trial.state.name.lower())))


# Text alternatives: each figure's key figures in words (pure functions, tested without a browser).

def _value(value) -> str:
    return format(value, ".3g") if isinstance(value, float) else str(value)


def _settings(params: dict) -> str:
    return ", ".join(f"{k} {_value(v)}" for k, v in sorted(params.items()))


def history_text(study: optuna.Study) -> str:
    """The optimisation history in words: the best trial so far, its accuracy and its settings."""
    done = _complete(study)
    if not done:
        return _("No trial has completed yet.")
    best = max(done, key=lambda t: t.value)
    return _("Best of {count} completed trials: {acc}% validation accuracy (trial {number}) with {settings}.",
             count=len(done), acc=format(best.value, ".1f"), number=best.number, settings=_settings(best.params) or "-")


def parallel_text(study: optuna.Study) -> str:
    """The parallel coordinates in words: how many lines, across which settings, and the span of the accuracies."""
    done = _complete(study)
    if not done:
        return _("No trial has completed yet.")
    fields = sorted({k for t in done for k in t.params})
    values = [t.value for t in done]
    return _("One line per completed trial ({n}), across {fields}; validation accuracy from {low}% to {high}%.",
             n=len(done), fields=", ".join(fields) or "-", low=format(min(values), ".1f"),
             high=format(max(values), ".1f"))


def slice_text(study: optuna.Study) -> str:
    """The slice plot in words: per setting, the values tried and the best trial's."""
    done = _complete(study)
    if not done:
        return _("No trial has completed yet.")
    best = max(done, key=lambda t: t.value)
    parts = []
    for field in sorted({k for t in done for k in t.params}):
        tried = [t.params[field] for t in done if field in t.params]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in tried)
        span = (f"{_value(min(tried))}–{_value(max(tried))}" if numbers
                else " | ".join(dict.fromkeys(map(str, tried))))
        parts.append(_("{field} tried {span}, best {best}", field=field, span=span,
                       best=_value(best.params.get(field, "-"))))
    return _("Settings against validation accuracy: {parts}.", parts="; ".join(parts) or "-")


def importance_text(fig: go.Figure | str) -> str:
    """The importance bars in words: the settings from the most to the least influential, with their share."""
    if isinstance(fig, str) or not fig.data:
        return ""
    bars = sorted(zip(fig.data[0].y, fig.data[0].x), key=lambda b: -b[1])
    return _("Most influential first: {bars}.", bars=", ".join(f"{name} {share:.2f}" for name, share in bars))


def curves_text(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's curves in words: its accuracies after its last recorded epoch."""
    history = trial.user_attrs.get("history") or []
    if not history:
        return _("Trial {number} has not finished an epoch yet.", number=trial.number)
    last = history[-1]

    def pct(key: str) -> str:
        return "-" if last.get(key) is None else format(last[key], ".1f")

    return _("Trial {number} after epoch {epoch}: training {train}%, validation {val}%, test {test}%.",
             number=trial.number, epoch=last["epoch"], train=pct("train_acc"), val=pct("val_acc"),
             test=pct("test_acc"))
